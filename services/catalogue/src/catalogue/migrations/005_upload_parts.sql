-- With CATALOGUE_STORAGE=s3://…, a tus upload's bytes collect in an S3 multipart upload (its parts, plus
-- a tail object for what follows the last whole part). Its UploadId is kept here, so every web process
-- finds the parts (the offset, the next part number) without a shared disk or sticky routing. NULL for
-- uploads kept in a local folder.
ALTER TABLE uploads ADD COLUMN multipart_upload_id text;
