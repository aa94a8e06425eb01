-- Projection of identity's PasswordReset and AccountDeleted events, kept by every service that
-- checks access tokens: a token is dead when issued before its account's last reset, or when its
-- account was deleted.
CREATE TABLE token_revocations (
    account_id     uuid PRIMARY KEY,
    revoked_before timestamptz,
    deleted_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
