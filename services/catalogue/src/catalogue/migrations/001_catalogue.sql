-- The catalogue: videos (searchable), their renditions (files in storage) and download grants.

-- array_to_string is only STABLE in general; on text[] it is immutable, as a generated column needs.
CREATE FUNCTION catalogue_words(words text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT array_to_string(words, ' ') $$;

CREATE TABLE videos (
    id            uuid PRIMARY KEY,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    published_at  timestamptz NOT NULL,
    duration_s    double precision NOT NULL CHECK (duration_s >= 0),
    people        text[] NOT NULL DEFAULT '{}',
    location      text NOT NULL DEFAULT '',
    tags          text[] NOT NULL DEFAULT '{}',
    thumbnail_key text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Title words weigh most (A), then the description (B), then people, place and tags (C).
    search        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', description), 'B')
        || setweight(
            to_tsvector('english', catalogue_words(people) || ' ' || location || ' ' || catalogue_words(tags)),
            'C')
    ) STORED,
    -- The title alone: title hits are listed first, ranked among themselves, without ranking the rest.
    title_search  tsvector GENERATED ALWAYS AS (to_tsvector('english', title)) STORED
);

CREATE INDEX videos_search ON videos USING gin (search);
CREATE INDEX videos_title_search ON videos USING gin (title_search);
CREATE INDEX videos_tags ON videos USING gin (tags);
CREATE INDEX videos_newest ON videos (published_at DESC, id DESC);

CREATE TABLE renditions (
    id             uuid PRIMARY KEY,
    video_id       uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    position       integer NOT NULL,
    label          text NOT NULL,
    container      text NOT NULL,
    codec          text NOT NULL,
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    bitrate        bigint NOT NULL CHECK (bitrate >= 0),
    size_bytes     bigint NOT NULL CHECK (size_bytes >= 0),
    checksum       text NOT NULL,
    storage_key    text NOT NULL,
    download_count bigint NOT NULL DEFAULT 0,
    UNIQUE (video_id, position)
);

-- One row per download link handed out; first_download_at is set once, so a download is counted
-- once per grant however many range requests fetch it.
CREATE TABLE download_grants (
    id                uuid PRIMARY KEY,
    rendition_id      uuid NOT NULL REFERENCES renditions (id) ON DELETE CASCADE,
    account_id        uuid,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    first_download_at timestamptz
);

CREATE INDEX download_grants_account ON download_grants (account_id);
