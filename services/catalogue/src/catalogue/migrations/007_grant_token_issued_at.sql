-- When the token a link was handed out with was issued: a password reset kills the links of the tokens
-- issued before it, including those its event had not reached the catalogue in time to refuse. NULL for
-- the grants made before (their creation time stands in).
ALTER TABLE download_grants ADD COLUMN token_issued_at timestamptz;
