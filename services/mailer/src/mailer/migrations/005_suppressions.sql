-- Addresses that bounced for good (an SMTP 5xx for the recipient, a DSN's 5.x.x): no newsletter is
-- tried to them again (the codes and other account mails still are: a person who fixed their
-- mailbox must be able to log in and reset a password). Subscribing to the newsletter again lifts it.
CREATE TABLE suppressions (
    address    text PRIMARY KEY,  -- lower-cased
    reason     text NOT NULL,
    via        text NOT NULL CHECK (via IN ('smtp', 'dsn')),
    created_at timestamptz NOT NULL DEFAULT now()
);
