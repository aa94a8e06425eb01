-- Projection of identity's SessionRevoked events (logout), kept by every service that checks access
-- tokens: the token with that jti is dead. A row is needed only until the token would have expired.
CREATE TABLE revoked_sessions (
    session_id text PRIMARY KEY,
    account_id uuid NOT NULL,
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX revoked_sessions_account ON revoked_sessions (account_id);
CREATE INDEX revoked_sessions_expires ON revoked_sessions (expires_at);
