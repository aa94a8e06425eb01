-- Which issues went to an account, and what became of them (a bounce), is no longer kept under its id
-- once the account is erased: the mailer's delivery log and the catalogue's download counts keep anonymous
-- rows, and so does issue_recipients now (AccountDeleted sets its account_id to NULL). The figures stay:
-- the tallies' trigger adds and takes away the same row. The accounts erased before this migration are
-- those the token check knows deleted (token_revocations keeps them for good).
ALTER TABLE issue_recipients ALTER COLUMN account_id DROP NOT NULL;
UPDATE issue_recipients SET account_id = NULL
WHERE account_id IN (SELECT account_id FROM token_revocations WHERE deleted_at IS NOT NULL);
