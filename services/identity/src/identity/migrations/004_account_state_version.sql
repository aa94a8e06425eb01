-- The version of the account's state published on identity.accounts.v1: one more per change.
ALTER TABLE accounts ADD COLUMN state_version bigint NOT NULL DEFAULT 0;
