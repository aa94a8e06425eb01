-- A row Kafka will never take as it is (too large, invalid) is parked with the reason instead of
-- being retried forever; the later rows of its key wait behind it, so one account's events keep
-- their order. `accounts-dlq parked` shows them, `accounts-dlq replay-parked` puts them back.
ALTER TABLE outbox
    ADD COLUMN parked_at   timestamptz,
    ADD COLUMN park_reason text;

DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (record_key, id) WHERE parked_at IS NOT NULL;
