-- Set by a password reset, rounded up to the next whole second: access tokens carry whole-second
-- `iat`s, so "iat < password_reset_at" tells every token issued before the reset from any after it.
ALTER TABLE accounts ADD COLUMN password_reset_at timestamptz;

-- Reset tokens handed out after a password-reset code was accepted; kept only as a SHA-256.
CREATE TABLE password_reset_tokens (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX password_reset_tokens_account ON password_reset_tokens (account_id);

-- Request counters for rate limits, shared by every worker and instance. One row per bucket
-- (a SHA-256 of scope and IP or email, so no address is stored in clear), counted in a fixed
-- window that starts with the bucket's first hit: a single atomic upsert per request.
CREATE TABLE rate_limits (
    bucket            bytea PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    hits              integer NOT NULL
);

CREATE INDEX rate_limits_window ON rate_limits (window_started_at);

-- Failed logins per email (known or not, so the throttle says nothing about accounts).
CREATE TABLE login_failures (
    bucket          bytea PRIMARY KEY,
    failures        integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz
);
