-- A grant whose account was deleted or whose password was reset after it was handed out: its link
-- answers no more, even if it was already used (the row stays for the anonymous download count).
ALTER TABLE download_grants ADD COLUMN revoked_at timestamptz;
