"""Events no database can store, against the real broker and database: a NUL in a string of the
data or of the envelope is dead-lettered on the spot, the field named, never handed to a handler
whose INSERT would fail on it retry after retry."""

import uuid
from collections import defaultdict
from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from accounts_common.db import create_pool
from accounts_common.events import CloudEvent, Topic, dead_letter_topic, new_event
from accounts_common.retry_policy import RetryLimits
from tests.conftest import Infra, fresh_topics, migrated_database
from tests.integration.test_outbox_and_consumer import consumer_for, dead_letter_reasons, send_raw
from tests.support.kafka import TopicReader
from tests.support.polling import wait_for
from tests.support.workers import running


@pytest.fixture(scope="module")
def audit_pool(infra: Infra) -> Iterator[ConnectionPool]:
    """A database with a table the handler writes strings into, as identity's audit log does."""
    url = migrated_database(infra, "test_consumer_odd_events")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE recorded (event_id uuid NOT NULL, source text NOT NULL, target text NOT NULL)"
        )
    with create_pool(url, name="test-odd-events") as pool:
        yield pool


def action(target: str, source: str = "/tests") -> CloudEvent:
    data = {
        "actor_account_id": None,
        "action": "staff.role-granted",
        "target": target,
        "at": "2026-12-06T10:00:00+00:00",
        "outcome": "ok",
        "via": "cli",
    }
    return new_event("OperatorActionRecorded", source=source, subject=str(uuid.uuid4()), data=data)


def recorded_ids(pool: ConnectionPool) -> set[str]:
    with pool.connection() as conn:
        return {str(row[0]) for row in conn.execute("SELECT event_id FROM recorded").fetchall()}


@pytest.mark.parametrize(
    ("odd", "named"),
    [
        (action("account:a\u0000b"), b"'target'"),
        (action("account:ab", source="/tests\u0000"), b"source"),
    ],
    ids=["in-the-data", "in-the-envelope"],
)
def test_a_nul_is_dead_lettered_at_the_first_attempt_naming_the_field(infra, audit_pool, odd, named):
    topic = f"test.odd-events-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    after = action("account:after")
    attempts: defaultdict[str, int] = defaultdict(int)

    def record(conn, event, data):  # type: ignore[no-untyped-def]
        attempts[event.id] += 1
        conn.execute(
            "INSERT INTO recorded (event_id, source, target) VALUES (%s, %s, %s)",
            (event.id, event.source, data["target"]),
        )

    send_raw(infra, topic, "key", [odd.to_json().encode(), after.to_json().encode()])
    limits = RetryLimits(unexpected_attempts=3)
    consumer = consumer_for(
        infra, audit_pool, topic, record, limits=limits, event_type="OperatorActionRecorded"
    )
    dead_letters = TopicReader(infra.kafka, dead_letter_topic(consumer.group))
    with running(consumer.run) as thread:
        wait_for(lambda: after.id in recorded_ids(audit_pool), timeout=60, what="the event after the odd one")
        assert thread.is_alive(), "the worker died"
    [reason] = dead_letter_reasons(dead_letters, 1)
    assert reason.startswith(b"InvalidEvent: ") and named in reason and b"U+0000" in reason, reason
    assert attempts[odd.id] == 0, "handed to the handler"
    assert odd.id not in recorded_ids(audit_pool)
