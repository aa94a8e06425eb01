-- State records of a compacted topic (identity.accounts.v1) go through the outbox too, written in
-- the transaction of the event that changed the state. A NULL value is a tombstone. A state record
-- names the event it follows; the relay publishes it once that event's Kafka position is known
-- (recorded here for every published row) and stamps that position on it, so a reader of the
-- compacted topic knows exactly which events it reflects.
ALTER TABLE outbox ALTER COLUMN record_value DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN follows_event_id uuid;
ALTER TABLE outbox ADD COLUMN kafka_partition integer;
ALTER TABLE outbox ADD COLUMN kafka_offset bigint;

CREATE INDEX outbox_pending_states ON outbox (follows_event_id)
    WHERE published_at IS NULL AND follows_event_id IS NOT NULL;
