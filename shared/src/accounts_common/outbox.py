"""Transactional outbox: write events with the state change, publish them to Kafka afterwards."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter

from accounts_common.events import CloudEvent, validate_data
from accounts_common.kafka import create_producer
from accounts_common.leader import LeadingProducer

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox"
RELAY_LOCK_KEY = 0x6F757462  # one active relay per database keeps the order per account
SEND_TIMEOUT_S = 30.0

PUBLISHED = Counter("outbox_published_total", "Events published from the outbox to Kafka")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Publish attempts that failed")


def enqueue(conn: psycopg.Connection, topic: str, event: CloudEvent) -> None:
    """Add the event to the outbox inside the caller's transaction (validated against its schema)."""
    validate_data(event.type, event.data)
    conn.execute(
        """INSERT INTO outbox (event_id, topic, record_key, record_value)
           VALUES (%s, %s, %s, %s)""",
        (event.id, topic, event.subject, event.to_json()),
    )


@dataclass(frozen=True)
class PendingRecord:
    id: int
    topic: str
    record_key: str
    record_value: str


class OutboxRelay(LeadingProducer):
    """Publishes pending outbox rows in order, waking on NOTIFY and polling as a fallback."""

    lock_key = RELAY_LOCK_KEY
    failures = PUBLISH_FAILURES

    def __init__(
        self,
        database_url: str,
        bootstrap_servers: str,
        *,
        client_id: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        keep_published_hours: float = 24.0,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        super().__init__(
            database_url,
            bootstrap_servers,
            client_id=client_id,
            poll_interval=poll_interval,
            producer_factory=producer_factory,
        )
        self.batch_size = batch_size
        self.keep_published_hours = keep_published_hours

    def serve(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        last_cleanup = 0.0
        while not stop.is_set():
            published = self.publish_pending(conn)
            if time.monotonic() - last_cleanup > 600:
                self._delete_old(conn)
                last_cleanup = time.monotonic()
            if published < self.batch_size:
                for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                    pass

    def publish_pending(self, conn: psycopg.Connection) -> int:
        """Publish one batch of pending rows in id order; mark the ones Kafka acknowledged."""
        rows = conn.execute(
            """SELECT id, topic, record_key, record_value FROM outbox
               WHERE published_at IS NULL ORDER BY id LIMIT %s""",
            (self.batch_size,),
        ).fetchall()
        if not rows:
            return 0
        pending = [PendingRecord(*row) for row in rows]
        producer = self.producer()
        futures = [
            producer.send(
                record.topic,
                key=record.record_key.encode(),
                value=record.record_value.encode(),
                headers=CloudEvent.content_headers(),
            )
            for record in pending
        ]
        producer.flush(timeout=SEND_TIMEOUT_S)
        acknowledged, failure = [], None
        for record, future in zip(pending, futures, strict=True):
            if future.succeeded():
                acknowledged.append(record.id)
            elif failure is None:
                failure = future.exception or KafkaError("send did not complete")
        if acknowledged:
            conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", (acknowledged,))
            PUBLISHED.inc(len(acknowledged))
        if failure is not None:
            raise failure if isinstance(failure, KafkaError) else KafkaError(str(failure))
        return len(pending)

    def _delete_old(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => %s)",
            (self.keep_published_hours * 3600,),
        )
