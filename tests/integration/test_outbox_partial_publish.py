"""A relay batch that fails part-way marks what Kafka acknowledged before it, so it is not sent twice."""

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from kafka.errors import KafkaError, KafkaTimeoutError

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.relay import OutboxRelay
from tests.conftest import Infra, migrated_database

PUBLISHED_TOPIC = "test.partial-published"
MISSING_TOPIC = "test.partial-missing"


@dataclass
class Metadata:
    partition: int
    offset: int


class Sent:
    """A send's future, acknowledged by Kafka or still in flight."""

    def __init__(self, offset: int | None) -> None:
        self.is_done = offset is not None
        self.value = Metadata(0, offset or 0)
        self.exception = None

    def succeeded(self) -> bool:
        return self.is_done


class PartialProducer:
    """Acknowledges PUBLISHED_TOPIC's records at once; MISSING_TOPIC's send waits for metadata that
    never comes (kafka-python raises from send() after max_block_ms), or, with `flush_times_out`,
    is appended but never acknowledged, and flush() times out."""

    def __init__(self, *args: Any, flush_times_out: bool = False, **kwargs: Any) -> None:
        self.flush_times_out = flush_times_out
        self.offsets = 0

    def send(self, topic: str, **kwargs: Any) -> Sent:
        if topic != MISSING_TOPIC:
            self.offsets += 1
            return Sent(self.offsets)
        if self.flush_times_out:
            return Sent(None)
        raise KafkaTimeoutError("Failed to update metadata after 10.0 secs.")

    def flush(self, timeout: float | None = None) -> None:
        if self.flush_times_out:
            raise KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")

    def close(self, timeout: float | None = None) -> None:
        pass


def event(account: str):  # type: ignore[no-untyped-def]
    email = f"{account[:8]}@example.org"
    data = {"account_id": account, "email": email, "registered_at": "2026-12-06T10:00:00+00:00"}
    return new_event("UserRegistered", source="/tests", subject=account, data=data)


@pytest.mark.parametrize("flush_times_out", [False, True], ids=["send-times-out", "flush-times-out"])
def test_rows_kafka_acknowledged_before_a_failing_send_are_marked_published(infra: Infra, flush_times_out):
    url = migrated_database(infra, f"test_outbox_partial_{uuid.uuid4().hex[:8]}")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        outbox.enqueue(conn, PUBLISHED_TOPIC, event(first))
        outbox.enqueue(conn, MISSING_TOPIC, event(second))
    relay = OutboxRelay(
        url,
        "127.0.0.1:1",
        client_id="test-relay-partial",
        producer_factory=lambda *args, **kwargs: PartialProducer(flush_times_out=flush_times_out),
    )

    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(KafkaError):
            relay.publish_pending(conn)
        published = dict(conn.execute("SELECT record_key, published_at IS NOT NULL FROM outbox").fetchall())

    assert published == {first: True, second: False}, "an acknowledged row would be published again"
