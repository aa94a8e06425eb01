-- Pre-hijacking defence: a password becomes usable only once the person who chose it proves
-- control of the mailbox. Each registration is its own pending credential with its own code; the
-- account gets a password only when that registration's code is entered with its id.
ALTER TABLE accounts ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE accounts ADD COLUMN locale text;
-- The same-site path the "password updated" mail leads back to, from the latest reset request.
ALTER TABLE accounts ADD COLUMN reset_return_to text;

-- A decoy (account_id NULL, password_hash NULL) answers a registration for an email that is
-- already verified: it behaves like a real one (codes, attempts, expiry) but nothing is mailed
-- and no code can match it, so the answers tell nothing about the account.
CREATE TABLE registrations (
    id              uuid PRIMARY KEY,
    email           text NOT NULL,
    account_id      uuid REFERENCES accounts (id) ON DELETE CASCADE,
    password_hash   text,
    locale          text,
    code_mac        bytea NOT NULL,
    code_expires_at timestamptz NOT NULL,
    code_attempts   integer NOT NULL DEFAULT 0,
    code_sent_at    timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);

CREATE INDEX registrations_account ON registrations (account_id);
CREATE INDEX registrations_expiry ON registrations (expires_at);

-- Existing pending accounts become registrations of their own (their id doubles as the
-- registration id); their live codes are voided: "Send new code" issues a fresh one.
INSERT INTO registrations (id, email, account_id, password_hash, code_mac, code_expires_at, expires_at)
SELECT id, email, id, password_hash, '\x00', now(), created_at + interval '7 days'
FROM accounts WHERE verified_at IS NULL;
UPDATE accounts SET password_hash = NULL WHERE verified_at IS NULL;

-- Reset codes are keyed by an HMAC of the normalised email, known or not: an unknown email gets a
-- decoy code, so a code-lock answers the same for both.
DROP TABLE codes;
CREATE TABLE reset_codes (
    email_key     bytea PRIMARY KEY,
    account_id    uuid REFERENCES accounts (id) ON DELETE CASCADE,
    code_mac      bytea NOT NULL,
    code_expires_at timestamptz NOT NULL,
    code_attempts integer NOT NULL DEFAULT 0,
    code_sent_at  timestamptz NOT NULL DEFAULT now(),
    used_at       timestamptz
);

-- Codes sent per email (known or not) and purpose, for the hourly cap.
DROP TABLE code_sends;
CREATE TABLE code_sends (
    email_key bytea NOT NULL,
    purpose   text NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX code_sends_recent ON code_sends (email_key, purpose, sent_at);

-- Wrong codes per email (known or not) and purpose in a 24-hour window, across codes: a new code
-- does not reset it.
CREATE TABLE code_guesses (
    email_key         bytea NOT NULL,
    purpose           text NOT NULL,
    window_started_at timestamptz NOT NULL,
    failures          integer NOT NULL,
    PRIMARY KEY (email_key, purpose)
);

-- Signing keys are kept sealed with IDENTITY_KEY_ENCRYPTION_KEYS, never as plaintext PEM. Keys
-- stored before this migration are plaintext and are dropped (a new sealed key is created on first
-- use; access tokens signed by the old keys end, as after a rotation).
DELETE FROM signing_keys;
ALTER TABLE signing_keys DROP COLUMN private_key_pem;
ALTER TABLE signing_keys ADD COLUMN private_key_sealed text NOT NULL;
