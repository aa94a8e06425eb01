-- When each account last subscribed to the newsletter (NewsletterSubscribed's `at`): a hard bounce of
-- a mail sent before then says nothing of the mailbox the person vouched for, and suppresses nothing.
CREATE TABLE newsletter_subscriptions (
    account_id    uuid PRIMARY KEY,
    subscribed_at timestamptz NOT NULL
);

-- When the mail whose hard bounce suppressed the address was sent (null: suppressed before this
-- column, created_at stands in): a newsletter skipped for the suppression is reported with it.
ALTER TABLE suppressions ADD COLUMN sent_at timestamptz;
