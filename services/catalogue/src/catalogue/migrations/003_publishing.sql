-- Publishing videos (DESIGN §9): titles and descriptions in English and French, searched in both;
-- a video's life (processing → ready → published, or failed), resumable uploads and transcoding jobs.

ALTER TABLE videos DROP COLUMN search, DROP COLUMN title_search;
ALTER TABLE videos RENAME COLUMN title TO title_en;
ALTER TABLE videos RENAME COLUMN description TO description_en;
ALTER TABLE videos
    ADD COLUMN title_fr text NOT NULL DEFAULT '',
    ADD COLUMN description_fr text NOT NULL DEFAULT '',
    -- Until it is published a video may have no date; publishing without one dates it then.
    ALTER COLUMN published_at DROP NOT NULL,
    ADD COLUMN status text NOT NULL DEFAULT 'published'
        CHECK (status IN ('processing', 'ready', 'published', 'failed')),
    ADD COLUMN progress integer NOT NULL DEFAULT 100 CHECK (progress BETWEEN 0 AND 100),
    ADD COLUMN failure text,
    ADD COLUMN poster_key text,
    ADD COLUMN preview_key text,
    ADD COLUMN master_key text,
    ADD CONSTRAINT videos_published_dated CHECK (status <> 'published' OR published_at IS NOT NULL),
    -- Each language has its own words, stemmed by its own configuration: a query matches a video in
    -- English or in French (one vector for both would let a phrase run from one language into the other).
    ADD COLUMN search_en tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title_en), 'A')
        || setweight(to_tsvector('english', description_en), 'B')
        || setweight(
            to_tsvector('english', catalogue_words(people) || ' ' || location || ' ' || catalogue_words(tags)),
            'C')
    ) STORED,
    ADD COLUMN search_fr tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('french', title_fr), 'A')
        || setweight(to_tsvector('french', description_fr), 'B')
        || setweight(
            to_tsvector('french', catalogue_words(people) || ' ' || location || ' ' || catalogue_words(tags)),
            'C')
    ) STORED,
    -- The titles alone: title hits are listed first.
    ADD COLUMN title_search_en tsvector GENERATED ALWAYS AS (to_tsvector('english', title_en)) STORED,
    ADD COLUMN title_search_fr tsvector GENERATED ALWAYS AS (to_tsvector('french', title_fr)) STORED;

CREATE INDEX videos_search_en ON videos USING gin (search_en);
CREATE INDEX videos_search_fr ON videos USING gin (search_fr);
CREATE INDEX videos_title_search_en ON videos USING gin (title_search_en);
CREATE INDEX videos_title_search_fr ON videos USING gin (title_search_fr);
CREATE INDEX videos_status ON videos (status) WHERE status <> 'published';

-- A tus upload (creation, core, termination): the bytes are in the upload area under the id; the
-- offset is what the file holds, so a write cut short by a crash keeps what reached the disk.
CREATE TABLE uploads (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    length      bigint NOT NULL CHECK (length >= 0),
    metadata    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Set when a video is made of it: its bytes have moved into storage as that video's master.
    video_id    uuid REFERENCES videos (id) ON DELETE SET NULL
);

-- One transcoding job per video. A worker claims it (FOR UPDATE SKIP LOCKED) and holds a lease it
-- renews while ffmpeg runs; a lease that runs out (the worker was killed) lets another worker take it.
CREATE TABLE transcode_jobs (
    video_id         uuid PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    worker           text,
    lease_expires_at timestamptz,
    finished_at      timestamptz
);

CREATE INDEX transcode_jobs_waiting ON transcode_jobs (created_at) WHERE finished_at IS NULL;
