-- Issues are written once per language, in Markdown (subjects and bodies: {"en": …, "fr": …}), and
-- live through draft → scheduled → sending → sent, or cancelled before they go. The recipients are
-- counted when the issue starts sending (last_subscriber_id, total), no longer when it is written.
ALTER TABLE issues
    ADD COLUMN status     text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
    ADD COLUMN subjects   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN bodies     jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN editor_id  uuid,
    ADD COLUMN send_at    timestamptz,
    ADD COLUMN started_at timestamptz,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- The issues of the old shape were sent as soon as posted, in one language, text and html given.
UPDATE issues
SET status = CASE WHEN completed_at IS NULL THEN 'sending' ELSE 'sent' END,
    subjects = jsonb_build_object('en', subject),
    bodies = jsonb_build_object('en', text_body),
    started_at = created_at;

ALTER TABLE issues
    DROP COLUMN subject,
    DROP COLUMN text_body,
    DROP COLUMN html_body,
    ALTER COLUMN last_subscriber_id SET DEFAULT 0,
    ALTER COLUMN total SET DEFAULT 0;

DROP INDEX issues_pending;
CREATE INDEX issues_due ON issues (coalesce(send_at, created_at)) WHERE status IN ('scheduled', 'sending');

-- The fan-out worker wakes when an issue is written or changes status (send now, schedule).
DROP TRIGGER issue_published ON issues;
CREATE TRIGGER issue_changed AFTER INSERT OR UPDATE OF status ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION issues_notify();

-- One row per delivery request of an issue, written before the request goes to Kafka (a replayed
-- batch writes nothing new), and its outcome from the mailer's EmailDelivered / EmailFailed: the
-- issue's figures are counted here.
CREATE TABLE issue_recipients (
    delivery_id uuid PRIMARY KEY,
    issue_id    uuid NOT NULL REFERENCES issues (id),
    account_id  uuid NOT NULL,
    outcome     text CHECK (outcome IN ('sent', 'failed', 'bounced')),
    updated_at  timestamptz
);

CREATE INDEX issue_recipients_issue ON issue_recipients (issue_id, outcome);
CREATE INDEX issue_recipients_account ON issue_recipients (account_id);
