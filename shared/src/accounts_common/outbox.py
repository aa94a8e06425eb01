"""Transactional outbox: write events with the state change, publish them to Kafka afterwards."""

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from kafka import KafkaProducer
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)
from kafka.producer.future import FutureRecordMetadata
from prometheus_client import Counter, Gauge
from psycopg_pool import ConnectionPool

from accounts_common.events import CloudEvent, validate_data
from accounts_common.housekeeping import Expiry, Schedule, delete_expired
from accounts_common.kafka import MAX_RECORD_BYTES, create_producer
from accounts_common.leader import LeadingProducer
from accounts_common.operations import ScrapeGauge

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox"
STATE_CONTENT_TYPE = "application/json"
# Headers of a state record: the event it follows, and that event's offset (same partition number).
FOLLOWS_EVENT_ID_HEADER = "follows-event-id"
FOLLOWS_EVENT_OFFSET_HEADER = "follows-event-offset"
RELAY_LOCK_KEY = 0x6F757462  # one active relay per database keeps the order per account
SEND_TIMEOUT_S = 30.0
STATES_WAIT_S = 0.05  # at most this long for the next events, before state records go out alone
# The parked-rows gauge is read again at most this often: a query less in front of each publish.
PARKED_REPORT_INTERVAL_S = 2.0

PUBLISHED = Counter("outbox_published_total", "Events published from the outbox to Kafka")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Publish attempts that failed")
OLDEST_PENDING_AGE = "outbox_oldest_pending_age_seconds"
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


def enqueue_state(
    conn: psycopg.Connection, topic: str, key: str, value: dict[str, Any] | None, follows: CloudEvent
) -> None:
    """Add the latest state under `key` (None: a tombstone) to the outbox, after the event `follows`.

    The relay publishes it once that event is on Kafka, to the event's partition number, in the
    order of the events there, with the event's id and offset in headers.
    """
    record_value = None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    conn.execute(
        """INSERT INTO outbox (event_id, topic, record_key, record_value, follows_event_id)
           VALUES (%s, %s, %s, %s, %s)""",
        (uuid.uuid4(), topic, key, record_value, follows.id),
    )


@dataclass(frozen=True)
class PendingRecord:
    id: int
    topic: str
    record_key: str
    record_value: str | None
    follows_event_id: uuid.UUID | None = None
    partition: int | None = None
    follows_offset: int | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        """An event's CloudEvents content type; a state record's content type and the event it follows."""
        if self.follows_event_id is None:
            return CloudEvent.content_headers()
        return [
            ("content-type", STATE_CONTENT_TYPE.encode()),
            (FOLLOWS_EVENT_ID_HEADER, str(self.follows_event_id).encode()),
            (FOLLOWS_EVENT_OFFSET_HEADER, str(self.follows_offset).encode()),
        ]


# A row behind a parked row of its topic and key waits until that one is replayed.
NOT_BEHIND_A_PARKED_ROW = """NOT EXISTS (SELECT 1 FROM outbox parked WHERE parked.parked_at IS NOT NULL
    AND parked.topic = {row}.topic AND parked.record_key = {row}.record_key AND parked.id < {row}.id)"""
# A row that waits for an operator, not the relay: behind a parked row, or the state record of an
# event that is parked or behind one.
NOT_HELD_BACK = f"""{NOT_BEHIND_A_PARKED_ROW.format(row="o")}
    AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.event_id = o.follows_event_id
        AND (e.parked_at IS NOT NULL OR NOT ({NOT_BEHIND_A_PARKED_ROW.format(row="e")})))"""
# One round trip for both kinds of pending row: the events in id order, then the state records
# waiting for their event's position, per partition in the events' order.
PENDING = f"""SELECT id, topic, record_key, record_value, follows_event_id, kafka_partition, kafka_offset
    FROM ((SELECT id, topic, record_key, record_value, NULL::uuid AS follows_event_id,
                  NULL::int AS kafka_partition, NULL::bigint AS kafka_offset, id AS event_order
           FROM outbox
           WHERE published_at IS NULL AND parked_at IS NULL AND follows_event_id IS NULL
             AND {NOT_BEHIND_A_PARKED_ROW.format(row="outbox")}
           ORDER BY id LIMIT %(limit)s)
          UNION ALL
          (SELECT state.id, state.topic, state.record_key, state.record_value, state.follows_event_id,
                  event.kafka_partition, event.kafka_offset, NULL
           FROM outbox state JOIN outbox event ON event.event_id = state.follows_event_id
           WHERE state.published_at IS NULL AND state.parked_at IS NULL AND event.kafka_offset IS NOT NULL
             AND {NOT_BEHIND_A_PARKED_ROW.format(row="state")}
           ORDER BY event.kafka_partition, event.kafka_offset LIMIT %(limit)s)) AS pending
    ORDER BY event_order NULLS LAST, kafka_partition, kafka_offset"""


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
    """The parked rows, oldest first, with how many rows wait behind each: the later rows of its topic
    and key, and the state records of those events (rows of its key on other topics flow)."""
    rows = conn.execute(
        """SELECT p.id, p.event_id::text, p.topic, p.record_key, coalesce(octet_length(p.record_value), 0),
                  p.parked_at::text, p.park_reason,
                  (SELECT count(*) FROM outbox w WHERE w.id > p.id
                      AND w.published_at IS NULL AND w.parked_at IS NULL
                      AND ((w.topic = p.topic AND w.record_key = p.record_key)
                           OR w.follows_event_id IN (SELECT e.event_id FROM outbox e WHERE e.id >= p.id
                               AND e.topic = p.topic AND e.record_key = p.record_key)))
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
        topic_prefix: str = "",
        housekeeping: Sequence[Expiry] = (),
        housekeeping_interval_s: float = 600.0,
        chores: Sequence[Callable[[psycopg.Connection], object]] = (),
        max_record_bytes: int = MAX_RECORD_BYTES,
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
        # Published rows are kept a while for inspection; the service may add its own tables.
        self.housekeeping = (Expiry("outbox", "published_at", keep_published_hours * 3600), *housekeeping)
        self.housekeeping_interval_s = housekeeping_interval_s
        # Clean-ups a plain age rule cannot say (they publish events, say), run with the housekeeping.
        self.chores = tuple(chores)
        self.max_record_bytes = max_record_bytes
        self.topic_prefix = topic_prefix  # publish to prefixed copies of the topics (isolated test runs)
        self._states_follow = False  # events went out: state records of theirs may be waiting
        self._parked_reported_at = -PARKED_REPORT_INTERVAL_S

    def serve(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        housekeeping = Schedule(self.housekeeping_interval_s)
        while not stop.is_set():
            self._report_parked(conn)  # first: a failing publish must not hide the parked rows
            published = self.publish_pending(conn)
            if housekeeping.due():
                delete_expired(conn, self.housekeeping)
                for chore in self.chores:
                    chore(conn)
            if published < self.batch_size:
                # The states of events just published wait for the next events to go out with them.
                timeout = STATES_WAIT_S if self._states_follow else self.poll_interval
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    pass

    def publish_pending(self, conn: psycopg.Connection) -> int:
        """Publish one batch of pending events in id order, with the state records that follow events
        published before (whose position is known), in one send; mark what Kafka acknowledged, with
        its position, park what it refuses for good, and raise on any other failure (the relay then
        waits and retries). The larger batch's size.

        One send, not one for the events and another for their states: under a steady flow of
        signups that halves the relay's produce requests, flushes and UPDATEs (py-spy: half of the
        relay's samples were in the producer's sender thread, a fifth waiting in flush).

        A row is refused before anything is sent when the producer itself finds it at fault (too
        large, an invalid topic): later rows of its topic and key are then not sent. The broker
        refusing a row after later rows of its key went out (its size limit below the producer's)
        cannot be undone.
        """
        pending = [PendingRecord(*row) for row in conn.execute(PENDING, {"limit": self.batch_size})]
        events = [record for record in pending if record.follows_event_id is None]
        states = [record for record in pending if record.follows_event_id is not None]
        self._states_follow = bool(events)
        self._publish(conn, events + states)
        return max(len(events), len(states))

    def _publish(self, conn: psycopg.Connection, pending: list[PendingRecord]) -> None:
        if not pending:
            return
        sent, refused = self._send(conn, pending)
        acknowledged, failure = [], refused
        for record, future in sent:
            if future.succeeded():
                acknowledged.append((record.id, future.value.partition, future.value.offset))
            elif isinstance(future.exception, UNPUBLISHABLE):
                park(conn, record.id, _describe(future.exception))
            elif failure is None:
                failure = future.exception or KafkaError("send did not complete")
        if acknowledged:
            conn.execute(
                """UPDATE outbox SET published_at = now(), kafka_partition = acked.kafka_partition,
                          kafka_offset = acked.kafka_offset
                   FROM unnest(%s::bigint[], %s::int[], %s::bigint[])
                        AS acked(id, kafka_partition, kafka_offset)
                   WHERE outbox.id = acked.id""",
                tuple(map(list, zip(*acknowledged, strict=True))),
            )
            PUBLISHED.inc(len(acknowledged))
        if failure is not None:
            raise failure if isinstance(failure, KafkaError) else KafkaError(str(failure))

    def _send(
        self, conn: psycopg.Connection, pending: list[PendingRecord]
    ) -> tuple[list[tuple[PendingRecord, FutureRecordMetadata]], KafkaError | None]:
        """Send the records in order and wait for Kafka. A record the producer finds at fault is
        parked and its topic and key held back; at one it cannot place at all, stop."""
        producer = self.producer()
        sent, held, refused = [], set(), None
        for record in pending:
            if (record.topic, record.record_key) in held:
                continue
            try:
                future = producer.send(
                    self.topic_prefix + record.topic,
                    key=record.record_key.encode(),
                    value=None if record.record_value is None else record.record_value.encode(),
                    headers=record.headers(),
                    partition=record.partition,
                )
            except UNPUBLISHABLE as error:
                future = None
                park(conn, record.id, _describe(error))
            except ValueError as error:
                # A state topic with fewer partitions than its events: the states wait, the events flow.
                refused = KafkaError(f"cannot publish to {record.topic}: {error}")
                break
            except KafkaError as error:
                # No metadata for the topic (a missing one) or no buffer within max_block_ms: the rows
                # sent before it still go out, and must be marked or the next round sends them again.
                refused = error
                break
            if future is not None and future.is_done and isinstance(future.exception, UNPUBLISHABLE):
                park(conn, record.id, _describe(future.exception))
                future = None
            if future is None:
                held.add((record.topic, record.record_key))
            else:
                sent.append((record, future))
        try:
            producer.flush(timeout=SEND_TIMEOUT_S)
        except KafkaTimeoutError:
            pass  # what is acknowledged by now is marked; the rest counts as failed (not done)
        return sent, refused

    def _report_parked(self, conn: psycopg.Connection) -> None:
        if time.monotonic() < self._parked_reported_at + PARKED_REPORT_INTERVAL_S:
            return
        self._parked_reported_at = time.monotonic()
        row = conn.execute("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL").fetchone()
        PARKED_ROWS.set(row[0] if row else 0)

    def standing_by(self) -> None:
        # The leader reports the parked rows; what this instance saw when it led would stay for good.
        PARKED_ROWS.set(0)

    def producer_options(self) -> dict[str, Any]:
        """Records up to max_record_bytes: a larger one is parked, not sent."""
        return {"max_request_size": self.max_record_bytes}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def oldest_pending_age_gauge(pool: ConnectionPool) -> dict[str, ScrapeGauge]:
    """For a service's /metrics: how long the oldest unpublished event has waited (0: none waits).

    Read from the database on each scrape, so it keeps growing when no relay runs at all. Parked
    rows, and the rows they hold back, are left out: outbox_parked_rows warns about them, and they
    wait for an operator, not for the relay this gauge's alert sends people to.
    """

    def read() -> float:
        with pool.connection() as conn:
            row = conn.execute(
                f"""SELECT extract(epoch FROM now() - o.created_at) FROM outbox o
                    WHERE o.published_at IS NULL AND o.parked_at IS NULL AND {NOT_HELD_BACK}
                    ORDER BY o.id LIMIT 1"""
            ).fetchone()
        return float(row[0]) if row else 0.0

    return {OLDEST_PENDING_AGE: ScrapeGauge("Seconds the oldest unpublished outbox event has waited", read)}
