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
from psycopg_pool import ConnectionPool

from accounts_common.events import CloudEvent, validate_data
from accounts_common.kafka import create_producer
from accounts_common.retry import Backoff
from accounts_common.web import ScrapeGauge

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox"
RELAY_LOCK_KEY = 0x6F757462  # one active relay per database keeps the order per account
SEND_TIMEOUT_S = 30.0

PUBLISHED = Counter("outbox_published_total", "Events published from the outbox to Kafka")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Publish attempts that failed")
OLDEST_PENDING_AGE = "outbox_oldest_pending_age_seconds"


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


class OutboxRelay:
    """Publishes pending outbox rows in order, waking on NOTIFY and polling as a fallback."""

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
        self.database_url = database_url
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.keep_published_hours = keep_published_hours
        self.producer_factory = producer_factory
        self._producer: KafkaProducer | None = None

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set, surviving database and broker outages."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                with psycopg.connect(self.database_url, autocommit=True) as conn:
                    if self._lead(conn, stop):
                        backoff.reset()
                        self._relay(conn, stop)
            except (psycopg.OperationalError, KafkaError) as error:
                PUBLISH_FAILURES.inc()
                log.warning("outbox relay: %s; retrying", error)
                self._drop_producer()
                stop.wait(backoff.next())
        self._drop_producer()

    def _lead(self, conn: psycopg.Connection, stop: threading.Event) -> bool:
        """Wait to become the one relay publishing this database's outbox."""
        while not stop.is_set():
            locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_KEY,)).fetchone()
            if locked and locked[0]:
                log.info("outbox relay %s is publishing", self.client_id)
                return True
            stop.wait(self.poll_interval * 5)
        return False

    def _relay(self, conn: psycopg.Connection, stop: threading.Event) -> None:
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
        producer = self._get_producer()
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

    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self.producer_factory(self.bootstrap_servers, client_id=self.client_id)
        return self._producer

    def _drop_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except Exception:  # noqa: BLE001 - a broken producer is replaced whatever close says
                log.debug("closing a failed producer raised", exc_info=True)
            self._producer = None


def oldest_pending_age_gauge(pool: ConnectionPool) -> dict[str, ScrapeGauge]:
    """For a service's /metrics: how long the oldest unpublished event has waited (0: none waits).

    Read from the database on each scrape, so it keeps growing when no relay runs at all.
    """

    def read() -> float:
        with pool.connection() as conn:
            row = conn.execute(
                """SELECT extract(epoch FROM now() - created_at) FROM outbox
                   WHERE published_at IS NULL ORDER BY id LIMIT 1"""
            ).fetchone()
        return float(row[0]) if row else 0.0

    return {OLDEST_PENDING_AGE: ScrapeGauge("Seconds the oldest unpublished outbox event has waited", read)}
