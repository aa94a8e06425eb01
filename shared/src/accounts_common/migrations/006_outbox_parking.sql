-- A row Kafka will never take as it is (too large, invalid) is parked with the reason instead of
-- being retried forever; the later rows of its topic and key wait behind it, so one account's
-- records keep their order. `accounts-dlq parked` shows them, `accounts-dlq replay-parked` puts
-- them back.
ALTER TABLE outbox
    ADD COLUMN parked_at   timestamptz,
    ADD COLUMN park_reason text;

DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (topic, record_key, id) WHERE parked_at IS NOT NULL;
