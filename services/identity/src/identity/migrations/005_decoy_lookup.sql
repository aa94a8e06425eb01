-- A login for a verified email looks up its newest decoy registration (somebody else's sign-up),
-- whose password answers "not verified yet" as a pending registration's does.
CREATE INDEX registrations_decoys ON registrations (lower(email), created_at) WHERE account_id IS NULL;
