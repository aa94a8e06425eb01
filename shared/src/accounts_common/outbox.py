"""Transactional outbox: write events with the state change, publish them to Kafka afterwards."""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from kafka import KafkaProducer
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)
from kafka.producer.future import FutureRecordMetadata
from prometheus_client import Counter, Gauge

from accounts_common.events import CloudEvent, validate_data
from accounts_common.housekeeping import Expiry, Schedule, delete_expired
from accounts_common.kafka import MAX_RECORD_BYTES, create_producer
from accounts_common.retry import Backoff

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox"
RELAY_LOCK_KEY = 0x6F757462  # one active relay per database keeps the order per account
SEND_TIMEOUT_S = 30.0

PUBLISHED = Counter("outbox_published_total", "Events published from the outbox to Kafka")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Publish attempts that failed")
PARKED_ROWS = Gauge(
    "outbox_parked_rows",
    "Outbox rows Kafka refused for good, waiting for an operator (accounts-dlq parked)",
    multiprocess_mode="max",  # one figure, not one per web worker that imports this module
)
# Faults of the record itself: retrying cannot help. Anything else (a broker down, a timeout) waits.
UNPUBLISHABLE = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    InvalidRecordError,
    CorruptRecordError,
)


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


@dataclass(frozen=True)
class ParkedRow:
    """An outbox row parked because Kafka refused it for good, with the reason."""

    id: int
    event_id: str
    topic: str
    record_key: str
    size: int
    parked_at: str
    park_reason: str
    waiting_behind: int


def park(conn: psycopg.Connection, row_id: int, reason: str) -> None:
    """Set the row aside with its reason; the later rows of its key wait until it is replayed."""
    conn.execute(
        "UPDATE outbox SET parked_at = now(), park_reason = %s WHERE id = %s", (reason[:2000], row_id)
    )
    log.error("outbox relay: parked row %s: %s", row_id, reason)


def parked_rows(conn: psycopg.Connection) -> list[ParkedRow]:
    """The parked rows, oldest first, with how many later rows of their key wait behind each."""
    rows = conn.execute(
        """SELECT p.id, p.event_id::text, p.topic, p.record_key, octet_length(p.record_value),
                  p.parked_at::text, p.park_reason,
                  (SELECT count(*) FROM outbox w WHERE w.record_key = p.record_key AND w.id > p.id
                      AND w.published_at IS NULL AND w.parked_at IS NULL)
           FROM outbox p WHERE p.parked_at IS NOT NULL ORDER BY p.id"""
    ).fetchall()
    return [ParkedRow(*row) for row in rows]


def replay_parked(conn: psycopg.Connection, ids: list[int] | None = None) -> int:
    """Put parked rows (all, or those ids) back in the queue, once the cause is fixed; how many."""
    cursor = conn.execute(
        """UPDATE outbox SET parked_at = NULL, park_reason = NULL
           WHERE parked_at IS NOT NULL AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))""",
        {"ids": ids},
    )
    conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return cursor.rowcount


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
        housekeeping: Sequence[Expiry] = (),
        housekeeping_interval_s: float = 600.0,
        max_record_bytes: int = MAX_RECORD_BYTES,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        self.database_url = database_url
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        # Published rows are kept a while for inspection; the service may add its own tables.
        self.housekeeping = (Expiry("outbox", "published_at", keep_published_hours * 3600), *housekeeping)
        self.housekeeping_interval_s = housekeeping_interval_s
        self.max_record_bytes = max_record_bytes
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
        housekeeping = Schedule(self.housekeeping_interval_s)
        while not stop.is_set():
            published = self.publish_pending(conn)
            self._report_parked(conn)
            if housekeeping.due():
                delete_expired(conn, self.housekeeping)
            if published < self.batch_size:
                for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                    pass

    def publish_pending(self, conn: psycopg.Connection) -> int:
        """Publish one batch of pending rows in id order; mark the ones Kafka acknowledged, park the
        ones it refuses for good, and raise on any other failure (the relay then waits and retries).

        A row is refused before anything is sent when the producer itself finds it at fault (too
        large, an invalid topic): later rows of its key are then not sent. The broker refusing a row
        after later rows of its key went out (its size limit below the producer's) cannot be undone.
        """
        rows = conn.execute(
            """SELECT id, topic, record_key, record_value FROM outbox o
               WHERE published_at IS NULL AND parked_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL
                                 AND p.record_key = o.record_key AND p.id < o.id)
               ORDER BY id LIMIT %s""",
            (self.batch_size,),
        ).fetchall()
        if not rows:
            return 0
        sent = self._send(conn, [PendingRecord(*row) for row in rows])
        self._get_producer().flush(timeout=SEND_TIMEOUT_S)
        acknowledged, failure = [], None
        for record, future in sent:
            if future.succeeded():
                acknowledged.append(record.id)
            elif isinstance(future.exception, UNPUBLISHABLE):
                park(conn, record.id, _describe(future.exception))
            elif failure is None:
                failure = future.exception or KafkaError("send did not complete")
        if acknowledged:
            conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", (acknowledged,))
            PUBLISHED.inc(len(acknowledged))
        if failure is not None:
            raise failure if isinstance(failure, KafkaError) else KafkaError(str(failure))
        return len(rows)

    def _send(
        self, conn: psycopg.Connection, pending: list[PendingRecord]
    ) -> list[tuple[PendingRecord, FutureRecordMetadata]]:
        """Hand the rows to the producer; a row refused on the spot is parked and its key held back."""
        producer = self._get_producer()
        sent, held_keys = [], set()
        for record in pending:
            if record.record_key in held_keys:
                continue
            try:
                future = producer.send(
                    record.topic,
                    key=record.record_key.encode(),
                    value=record.record_value.encode(),
                    headers=CloudEvent.content_headers(),
                )
            except UNPUBLISHABLE as error:
                park(conn, record.id, _describe(error))
                held_keys.add(record.record_key)
                continue
            if future.is_done and isinstance(future.exception, UNPUBLISHABLE):
                park(conn, record.id, _describe(future.exception))
                held_keys.add(record.record_key)
                continue
            sent.append((record, future))
        return sent

    def _report_parked(self, conn: psycopg.Connection) -> None:
        row = conn.execute("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL").fetchone()
        PARKED_ROWS.set(row[0] if row else 0)

    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self.producer_factory(
                self.bootstrap_servers, client_id=self.client_id, max_request_size=self.max_record_bytes
            )
        return self._producer

    def _drop_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except Exception:  # noqa: BLE001 - a broken producer is replaced whatever close says
                log.debug("closing a failed producer raised", exc_info=True)
            self._producer = None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
