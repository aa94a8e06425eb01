-- Projection of identity's account events, kept by every service that serves verified accounts
-- (catalogue, newsletter): which accounts are verified, under which email today. A row is deleted
-- on AccountDeleted; token_revocations keeps the erased id so late events cannot bring it back.
CREATE TABLE known_accounts (
    account_id  uuid PRIMARY KEY,
    email       text NOT NULL,
    verified_at timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
