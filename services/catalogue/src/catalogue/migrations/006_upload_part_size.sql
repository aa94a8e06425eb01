-- S3 takes at most 10,000 parts per multipart upload: an upload in a bucket is sent in parts large enough
-- for its whole length, chosen when it is created (CATALOGUE_UPLOAD_PART_BYTES, or more for a long one)
-- and kept here, so every web process cuts its parts alike. NULL for uploads kept in a local folder
-- (and for those created before: they go on in CATALOGUE_UPLOAD_PART_BYTES).
ALTER TABLE uploads ADD COLUMN part_bytes bigint CHECK (part_bytes > 0);
