-- One row per email the mailer was asked to send, keyed by the event that asked for it.
CREATE TABLE deliveries (
    event_id   uuid PRIMARY KEY,
    kind       text NOT NULL,
    account_id uuid,
    recipient  text,
    status     text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    message_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX deliveries_recipient ON deliveries (lower(recipient));
CREATE INDEX deliveries_account ON deliveries (account_id);
