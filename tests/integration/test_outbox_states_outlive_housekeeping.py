"""State records that wait for their partition, against the real broker and database: the relay's
housekeeping deletes published outbox rows after a day, but never an event whose state record has
not gone out yet. The state record is published with its event's position, which only that row
holds: without it the state would wait for ever, and the compacted topic would never get it (a
tombstone among them: the erased person's email kept there for good)."""

import uuid

import psycopg
from kafka.admin import NewPartitions
from psycopg_pool import ConnectionPool

from accounts_common import outbox
from accounts_common.events import Topic
from accounts_common.housekeeping import delete_expired
from accounts_common.kafka import create_admin
from accounts_common.relay import OutboxRelay
from tests.conftest import database_fixtures, fresh_topics
from tests.integration.test_outbox_and_consumer import registered
from tests.support.polling import wait_for
from tests.support.workers import running

# A database of this module's own: a state record another test leaves waiting would hold this one's back.
states_db, states_pool = database_fixtures("states", scope="module", database="test_outbox_states")


def unpublished(pool: ConnectionPool, topic: str) -> int:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE topic = %s AND published_at IS NULL", (topic,)
        ).fetchone()
    return row[0] if row else 0


def test_state_records_waiting_longer_than_the_outbox_keeps_events_still_go_out(
    infra, states_db, states_pool
):
    events_topic, state_topic = (f"test.{kind}-{uuid.uuid4().hex[:8]}" for kind in ("events", "narrow"))
    # The state topic short of partitions: the states of the events on partitions 1 and 2 wait.
    fresh_topics(infra, Topic(events_topic, partitions=3), Topic(state_topic, partitions=1))
    with states_pool.connection() as conn, conn.transaction():
        for account in (str(uuid.uuid4()) for _ in range(9)):
            event = registered(account, 0)
            outbox.enqueue(conn, events_topic, event)
            outbox.enqueue_state(conn, state_topic, account, {"sequence": 0}, follows=event)
    relay = OutboxRelay(states_db, infra.kafka, client_id="test-relay-states-kept")
    with running(relay.run):
        wait_for(lambda: unpublished(states_pool, events_topic) == 0, timeout=30, what="the 9 events out")
    waiting = unpublished(states_pool, state_topic)
    assert waiting > 0  # nine keys on three partitions: some land beyond partition 0

    # Longer than the outbox keeps published rows goes by; the relay's housekeeping runs.
    with psycopg.connect(states_db, autocommit=True) as conn:
        conn.execute("UPDATE outbox SET published_at = published_at - interval '25 hours'")  # all this test's
        delete_expired(conn, relay.housekeeping)

    # The operator gives the state topic its partitions: every state goes out.
    admin = create_admin(infra.kafka, client_id="test-outbox-states-admin")
    try:
        admin.create_partitions({state_topic: NewPartitions(total_count=3)})
    finally:
        admin.close()
    fixed = OutboxRelay(states_db, infra.kafka, client_id="test-relay-states-fixed")
    with running(fixed.run):
        wait_for(lambda: unpublished(states_pool, state_topic) == 0, timeout=30, what="the states out")
