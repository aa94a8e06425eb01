"""The outbox relay: the one process per database that publishes the pending outbox rows to Kafka in
order, marks what Kafka acknowledged with its position, and parks what it refuses for good."""

import threading
import time
from collections.abc import Callable, Sequence
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

from accounts_common.housekeeping import Expiry, Schedule, delete_expired
from accounts_common.kafka import MAX_RECORD_BYTES, create_producer
from accounts_common.leader import LeadingProducer
from accounts_common.outbox import (
    FOLLOWED_BY_A_WAITING_STATE,
    NOTIFY_CHANNEL,
    PENDING,
    PendingRecord,
    park,
)

RELAY_LOCK_KEY = 0x6F757462  # one active relay per database keeps the order per account
SEND_TIMEOUT_S = 30.0
STATES_WAIT_S = 0.05  # at most this long for the next events, before state records go out alone
# The parked-rows gauge is read again at most this often: a query less in front of each publish.
PARKED_REPORT_INTERVAL_S = 2.0

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
        published = Expiry("outbox", "published_at", keep_published_hours * 3600, FOLLOWED_BY_A_WAITING_STATE)
        self.housekeeping = (published, *housekeeping)
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
