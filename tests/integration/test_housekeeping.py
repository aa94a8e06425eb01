"""Housekeeping: expired rows deleted in batches by the relay and consumer processes, the work measured."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg_pool import ConnectionPool

from accounts_common import housekeeping
from accounts_common.consumer import EventConsumer
from accounts_common.db import create_pool
from accounts_common.events import Topic
from accounts_common.housekeeping import Expiry, delete_expired
from accounts_common.relay import OutboxRelay
from tests.conftest import Infra, fresh_topics, migrated_database
from tests.support.polling import wait_for
from tests.support.workers import running


@pytest.fixture(scope="module")
def scratch_db(infra: Infra) -> str:
    url = migrated_database(infra, "test_housekeeping")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE sessions (id bigserial PRIMARY KEY, expires_at timestamptz NOT NULL)")
    return url


@pytest.fixture(scope="module")
def pool(scratch_db: str) -> Iterator[ConnectionPool]:
    with create_pool(scratch_db, name="test-housekeeping") as pool:
        yield pool


def add_inbox_rows(pool: ConnectionPool, age: str, count: int) -> None:
    with pool.connection() as conn:
        conn.execute(
            """INSERT INTO processed_events (consumer, event_id, processed_at)
               SELECT 'test', gen_random_uuid(), now() - %s::interval FROM generate_series(1, %s)""",
            (age, count),
        )


def count_rows(pool: ConnectionPool, table: str) -> int:
    with pool.connection() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - test's own names
    return row[0] if row else 0


def deleted_metric(table: str) -> float:
    return REGISTRY.get_sample_value("housekeeping_rows_deleted_total", {"table": table}) or 0.0


def test_expired_rows_go_in_batches_and_the_work_is_counted(pool, monkeypatch):
    with pool.connection() as conn:
        conn.execute("TRUNCATE sessions")
        conn.execute(
            """INSERT INTO sessions (expires_at)
               SELECT now() - interval '1 minute' FROM generate_series(1, 11)"""
        )
        conn.execute("INSERT INTO sessions (expires_at) VALUES (now() + interval '1 hour')")
    monkeypatch.setattr(housekeeping, "BATCH_ROWS", 4)
    before = deleted_metric("sessions")
    timed = REGISTRY.get_sample_value("housekeeping_seconds_count", {"table": "sessions"}) or 0.0
    with pool.connection() as conn:
        assert delete_expired(conn, [Expiry("sessions", "expires_at", 0)]) == {"sessions": 11}
    assert count_rows(pool, "sessions") == 1
    assert deleted_metric("sessions") - before == 11
    assert REGISTRY.get_sample_value("housekeeping_seconds_count", {"table": "sessions"}) == timed + 1


def test_the_consumer_worker_deletes_old_inbox_rows_periodically(infra, pool):
    with pool.connection() as conn:
        conn.execute("TRUNCATE processed_events")
    add_inbox_rows(pool, "40 days", 5)
    add_inbox_rows(pool, "1 day", 2)
    topic = f"test.housekeeping-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    consumer = EventConsumer(
        group=f"test-housekeeping-{uuid.uuid4().hex[:8]}",
        topics=(topic,),
        handlers={},
        pool=pool,
        bootstrap_servers=infra.kafka,
        housekeeping_interval_s=0.2,
    )
    with running(consumer.run):
        wait_for(
            lambda: count_rows(pool, "processed_events") == 2, timeout=30, what="the old inbox rows gone"
        )
        add_inbox_rows(pool, "31 days", 3)
        wait_for(lambda: count_rows(pool, "processed_events") == 2, timeout=30, what="a later round")


def test_the_relay_deletes_old_published_rows_and_the_service_tables_it_is_given(infra, scratch_db, pool):
    with pool.connection() as conn:
        conn.execute("TRUNCATE sessions")
        conn.execute("INSERT INTO sessions (expires_at) VALUES (now() - interval '1 second')")
        conn.execute(
            """INSERT INTO outbox (event_id, topic, record_key, record_value, published_at)
               VALUES (gen_random_uuid(), 'old', 'k', '{}', now() - interval '2 days'),
                      (gen_random_uuid(), 'recent', 'k', '{}', now() - interval '1 hour')"""
        )
    relay = OutboxRelay(
        scratch_db,
        infra.kafka,
        client_id="test-housekeeping-relay",
        housekeeping_interval_s=0.2,
        housekeeping=[Expiry("sessions", "expires_at", 0)],
    )
    with running(relay.run):
        wait_for(lambda: count_rows(pool, "sessions") == 0, timeout=30, what="the expired session gone")
    with pool.connection() as conn:
        topics = [row[0] for row in conn.execute("SELECT topic FROM outbox WHERE published_at IS NOT NULL")]
    assert topics == ["recent"]
