-- Staff roles: an account holds each role at most once; every change is an event and an audit record.
CREATE TABLE staff_roles (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'catalogue-editor', 'newsletter-editor', 'support')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by uuid,  -- the admin's account; NULL when granted from the command line
    PRIMARY KEY (account_id, role)
);

-- Set by a role change, rounded up to the next whole second like password_reset_at (migration 002):
-- sessions issued before it end, so a revoked role stops counting at once.
ALTER TABLE accounts ADD COLUMN roles_changed_at timestamptz;

-- The account's TOTP secret (RFC 6238), sealed with the key-encryption keys like the signing keys.
-- It counts once confirmed with a first code; `last_step` is the newest 30-second step a code was
-- accepted for, so a code is never accepted twice.
CREATE TABLE totp_credentials (
    account_id    uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret_sealed text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    last_step     bigint NOT NULL DEFAULT 0
);

-- Recovery codes for a lost phone: SHA-256 of high-entropy codes shown once, each usable once.
CREATE TABLE recovery_codes (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (account_id, code_hash)
);
