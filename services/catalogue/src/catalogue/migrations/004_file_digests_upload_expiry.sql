-- Every file answer carries Repr-Digest (DESIGN §9): renditions keep their SHA-256 in their row; the
-- poster, thumbnail and preview have theirs here, by storage key, computed once on their first answer
-- (with the size it was computed for: a file replaced under its key is hashed again).
CREATE TABLE file_digests (
    storage_key text PRIMARY KEY,
    size_bytes  bigint NOT NULL CHECK (size_bytes >= 0),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$')
);

-- Abandoned tus uploads expire: the periodic sweep looks for unfinished ones by age.
CREATE INDEX uploads_unused_by_age ON uploads (created_at) WHERE video_id IS NULL;
