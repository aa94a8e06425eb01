"""After a restore: outbox rows that came back without their publish mark go out again, and the
consumers, deduplicating by event id, act on them once (docs/operating/backups.md)."""

import uuid

import pytest
from prometheus_client import REGISTRY

from accounts_common import outbox
from accounts_common.relay import OutboxRelay
from tests.conftest import Infra
from tests.integration.test_outbox_and_consumer import (  # noqa: F401 # fixtures shared with it
    consumer_for,
    handled_ids,
    record_handled,
    registered,
    runtime_database,
    scratch_pool,
    topic,
)
from tests.support.kafka import TopicReader
from tests.support.polling import wait_for
from tests.support.workers import running


@pytest.fixture(scope="module")
def scratch_db(infra: Infra) -> str:
    """This module's own: test_outbox_and_consumer's may exist already in this process."""
    return runtime_database(infra, "test_restore")


def seen(group: str, outcome: str) -> float | None:
    return REGISTRY.get_sample_value("consumer_events_total", {"group": group, "outcome": outcome})


def relay_until(infra, database_url: str, reader, count: int) -> None:  # type: ignore[no-untyped-def]
    relay = OutboxRelay(database_url, infra.kafka, client_id="test-restore-relay")
    with running(relay.run):
        reader.read_until(lambda records: len(records) >= count, timeout=60, what=f"{count} records")


def test_a_restored_row_published_before_the_loss_is_published_again_and_handled_once(
    infra,
    scratch_db,
    scratch_pool,  # noqa: F811
    topic,  # noqa: F811
):
    account = str(uuid.uuid4())
    event = registered(account, 0)
    with scratch_pool.connection() as conn, conn.transaction():
        outbox.enqueue(conn, topic, event)
    reader = TopicReader(infra.kafka, topic)
    try:
        relay_until(infra, scratch_db, reader, 1)
        # The restored database: the row is back, its publish mark was written after the last archived WAL.
        with scratch_pool.connection() as conn:
            conn.execute(
                """UPDATE outbox SET published_at = NULL, kafka_partition = NULL, kafka_offset = NULL
                   WHERE event_id = %s""",
                (event.id,),
            )
        relay_until(infra, scratch_db, reader, 2)
    finally:
        reader.close()
    assert [published["id"] for published in reader.events()] == [event.id, event.id]

    consumer = consumer_for(infra, scratch_pool, topic, record_handled)
    with running(consumer.run):
        wait_for(lambda: seen(consumer.group, "duplicate"), timeout=30, what="the second copy read")
    assert handled_ids(scratch_pool, account) == [event.id]
    assert seen(consumer.group, "handled") == 1
