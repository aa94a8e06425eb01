-- Accounts erased by AccountDeleted, so that an event about one of them handled late (another
-- topic, another partition) is recorded as skipped instead of writing its address back.
CREATE TABLE erased_accounts (
    account_id uuid PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now()
);

-- 'skipped': not sent on purpose (the code had expired, the account was erased); last_error says why.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries
    ADD CONSTRAINT deliveries_status_check
        CHECK (status IN ('sending', 'sent', 'retrying', 'failed', 'skipped'));
