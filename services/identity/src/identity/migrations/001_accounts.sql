CREATE TABLE accounts (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    verified_at         timestamptz,
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));

-- One live code per account and purpose: issuing a new one replaces (voids) the old.
CREATE TABLE codes (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verification', 'password_reset')),
    code_mac   bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    used_at    timestamptz,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, purpose)
);

-- Every code sent, for the resend cooldown and the hourly cap.
CREATE TABLE code_sends (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX code_sends_recent ON code_sends (account_id, purpose, sent_at);

CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,
    private_key_pem text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz
);

CREATE TABLE sessions (
    jti        uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX sessions_account ON sessions (account_id);
