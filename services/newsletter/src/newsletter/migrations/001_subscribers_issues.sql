-- Who receives the newsletter. The address is not stored here: it is the account's current email in
-- the known_accounts projection, so identity's events keep it current and AccountDeleted erases it.
-- Unsubscribing deletes the row; subscribing again makes a new one (with a higher id).
CREATE TABLE subscribers (
    id            bigserial PRIMARY KEY,
    account_id    uuid NOT NULL UNIQUE,
    subscribed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per issue an operator published. The fan-out worker reads subscribers in id order up to
-- last_subscriber_id (the newest subscriber when the issue was published) and records, after Kafka
-- acknowledged each batch, the highest id it covered in high_water: a restarted worker resumes there.
CREATE TABLE issues (
    id                 uuid PRIMARY KEY,
    subject            text NOT NULL,
    text_body          text NOT NULL,
    html_body          text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_subscriber_id bigint NOT NULL,
    total              integer NOT NULL,
    high_water         bigint NOT NULL DEFAULT 0,
    requested          integer NOT NULL DEFAULT 0,
    completed_at       timestamptz
);

CREATE INDEX issues_pending ON issues (created_at) WHERE completed_at IS NULL;

CREATE FUNCTION issues_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('newsletter_issues', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER issue_published AFTER INSERT ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION issues_notify();
