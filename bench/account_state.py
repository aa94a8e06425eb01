"""What identity.accounts.v1 costs and gives, side by side in one run.

1. The outbox relay publishing N account events alone, then N events each with its state record
   (the state waits for its event's position): records per second and the time ratio.
2. A late consumer's bootstrap (`AccountFeed.snapshot`) of N accounts next to a bare
   kafka-python loop reading the same records: accounts per second and the ratio.

Private topics and a fresh database; run from the repository root:
`.venv/bin/python -m bench.account_state [N]` (make bench BENCH=account_state).
"""

import os
import sys
import time
import uuid

import psycopg
from kafka import KafkaConsumer, TopicPartition

from accounts_common.account_feed import AccountFeed
from accounts_common.config import LOCAL_KAFKA, LOCAL_POSTGRES
from accounts_common.db import COMMON_MIGRATIONS, migrate
from accounts_common.events import Topic, new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, ACCOUNT_STATE, TOPICS, delete_topics, ensure_topics
from accounts_common.outbox import enqueue, enqueue_state
from accounts_common.relay import OutboxRelay
from bench.support import RUN_ID, BenchDatabases

PARTITIONS = {topic.name: topic.partitions for topic in TOPICS}


def fill_outbox(url: str, count: int, *, with_state: bool) -> None:
    """`count` AccountVerified events (and their state records) in the outbox, in one transaction."""
    with psycopg.connect(url) as conn, conn.transaction():
        for number in range(count):
            account = str(uuid.uuid4())
            data = {
                "account_id": account,
                "email": f"b{number}@example.org",
                "verified_at": "2026-11-28T10:00:00Z",
            }
            event = new_event("AccountVerified", source="/bench", subject=account, data=data)
            enqueue(conn, ACCOUNT_EVENTS, event)
            if with_state:
                state = {**data, "verified": True, "created_at": "2026-11-28T09:59:00Z", "version": 2}
                enqueue_state(conn, ACCOUNT_STATE, account, state, follows=event)


def relay_seconds(url: str, kafka: str, prefix: str) -> float:
    """Time for the relay to publish the whole outbox."""
    relay = OutboxRelay(url, kafka, client_id=f"bench-relay-{RUN_ID}", topic_prefix=prefix)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        while relay.publish_pending(conn):
            pass
        return time.perf_counter() - started


def bare_read_seconds(kafka: str, topic: str) -> float:
    """Time for a plain consumer, from its creation as the bootstrap's, to read every record of the topic."""
    started = time.perf_counter()
    consumer = KafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        consumer.poll(timeout_ms=500)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    databases = BenchDatabases(os.environ.get("DATABASE_URL", f"{LOCAL_POSTGRES}/postgres"))
    prefixes = [f"bench-{RUN_ID}-{kind}." for kind in ("events", "state")]
    topics = [Topic(p + name, PARTITIONS[name]) for p in prefixes for name in (ACCOUNT_EVENTS, ACCOUNT_STATE)]
    ensure_topics(kafka, tuple(topics))
    try:
        seconds = {}
        for prefix, with_state in zip(prefixes, (False, True), strict=True):
            url = databases.create(f"state_{int(with_state)}")
            migrate(url, COMMON_MIGRATIONS)
            fill_outbox(url, count, with_state=with_state)
            seconds[with_state] = relay_seconds(url, kafka, prefix)
        print(f"relay, {count} events alone:           {count / seconds[False]:8.0f} events/s")
        print(
            f"relay, {count} events + state records: {count / seconds[True]:8.0f} events/s "
            f"({2 * count / seconds[True]:.0f} records/s); time ratio {seconds[True] / seconds[False]:.2f}"
        )
        state_topic = prefixes[1] + ACCOUNT_STATE
        bare = bare_read_seconds(kafka, state_topic)
        started = time.perf_counter()
        snapshot = AccountFeed(kafka, topic_prefix=prefixes[1]).snapshot()
        bootstrap = time.perf_counter() - started
        assert len(snapshot.accounts) == count, len(snapshot.accounts)
        print(
            f"bootstrap of {count} accounts: {count / bootstrap:8.0f} accounts/s; "
            f"bare kafka-python read {count / bare:8.0f} records/s; ratio {bare / bootstrap:.2f}"
        )
    finally:
        delete_topics(kafka, [topic.name for topic in topics])
        databases.drop_all()


if __name__ == "__main__":
    main()
