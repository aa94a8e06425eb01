"""Idempotent Kafka consumer: handle each event once, retry what may pass, dead-letter the rest."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge
from psycopg_pool import ConnectionPool, PoolTimeout

from accounts_common.events import CloudEvent, InvalidEvent, dead_letter_topic, parse_event, validate_data
from accounts_common.kafka import create_consumer, create_producer
from accounts_common.retry import Backoff

log = logging.getLogger(__name__)

EVENTS = Counter("consumer_events_total", "Records seen by a consumer, by outcome", ["group", "outcome"])
CONSUMER_LAG = Gauge(
    "consumer_lag", "Records on the partition not processed yet", ["group", "topic", "partition"]
)
POLL_TIMEOUT_MS = 500
UNREACHABLE_WAIT_S = 1.0  # between polls while no broker answers
LAG_REPORT_INTERVAL_S = 2.0


class TransientError(Exception):
    """Work that failed for a passing reason (SMTP 4xx, a dropped connection): try again later."""


class PermanentError(Exception):
    """Work that will never succeed as it is (SMTP 5xx, data we cannot use): dead-letter it."""


@dataclass
class PartitionRetry:
    """A partition paused on a record that failed for a passing reason, and when to try it again."""

    offset: int
    backoff: Backoff
    due: float = 0.0
    waiting: bool = False

    def wait(self, offset: int) -> float:
        """Start the next backoff before retrying `offset`; the delay in seconds."""
        self.offset = offset
        delay = self.backoff.next()
        self.due = time.monotonic() + delay
        self.waiting = True
        return delay


class Handler(Protocol):
    def __call__(self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None: ...


RETRYABLE = (TransientError, psycopg.OperationalError, PoolTimeout)


def claim_event(conn: psycopg.Connection, consumer: str, event_id: str) -> bool:
    """Record the event as processed by `consumer`; False when it already was."""
    row = conn.execute(
        """INSERT INTO processed_events (consumer, event_id) VALUES (%s, %s)
           ON CONFLICT DO NOTHING RETURNING 1""",
        (consumer, event_id),
    ).fetchone()
    return row is not None


class EventConsumer:
    """Consumes topics as one group; offsets are committed only after the handlers' transactions."""

    def __init__(
        self,
        *,
        group: str,
        topics: tuple[str, ...],
        handlers: dict[str, Handler],
        pool: ConnectionPool,
        bootstrap_servers: str,
        max_backoff: float = 30.0,
        base_backoff: float = 0.5,
        inbox: bool = True,
        consumer_factory: Callable[..., KafkaConsumer] = create_consumer,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        self.group = group
        self.topics = topics
        self.handlers = handlers
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.max_backoff = max_backoff
        self.base_backoff = base_backoff
        self.inbox = inbox
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self._dlq_producer: KafkaProducer | None = None
        self._retries: dict[TopicPartition, PartitionRetry] = {}
        self._lag_reported_at = 0.0

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, then commit what is done and leave the group."""
        consumer = self.consumer_factory(self.bootstrap_servers, group_id=self.group, topics=self.topics)
        log.info("consumer group %s reading %s", self.group, ", ".join(self.topics))
        self._retries.clear()
        try:
            while not stop.is_set():
                self._resume_due_partitions(consumer)
                batch = self._poll(consumer, stop)
                done = self._process_batch(consumer, batch, stop)
                self._commit(consumer, done)
                self._report_lag(consumer)
        finally:
            consumer.close(autocommit=False)
            if self._dlq_producer is not None:
                self._dlq_producer.close(timeout=5)

    def _process_batch(
        self,
        consumer: KafkaConsumer,
        batch: dict[TopicPartition, list[ConsumerRecord]],
        stop: threading.Event,
    ) -> dict[TopicPartition, int]:
        """Process records in partition order; return the next offset to commit per partition."""
        done: dict[TopicPartition, int] = {}
        for partition, records in batch.items():
            retry = self._retries.get(partition)
            if retry is not None and retry.waiting:
                continue  # fetched before the pause; the seek on resume brings them back
            for record in records:
                if stop.is_set():
                    return done
                try:
                    self.process(record)
                except RETRYABLE as error:
                    self._schedule_retry(consumer, partition, record, error)
                    break
                self._retries.pop(partition, None)
                done[partition] = record.offset + 1
        return done

    def _schedule_retry(
        self, consumer: KafkaConsumer, partition: TopicPartition, record: ConsumerRecord, error: Exception
    ) -> None:
        """Pause the partition and come back to the failed record after a backoff; others keep flowing."""
        retry = self._retries.setdefault(
            partition, PartitionRetry(record.offset, Backoff(base=self.base_backoff, cap=self.max_backoff))
        )
        delay = retry.wait(record.offset)
        consumer.pause(partition)
        EVENTS.labels(self.group, "retried").inc()
        log.warning("%s: retrying %s in %.1fs: %s", self.group, _where(record), delay, error)

    def _resume_due_partitions(self, consumer: KafkaConsumer) -> None:
        """Seek paused partitions back to their failed record once their backoff is over."""
        assigned = consumer.assignment()
        now = time.monotonic()
        for partition, retry in list(self._retries.items()):
            if partition not in assigned:
                del self._retries[partition]  # revoked: its new owner starts from the committed offset
            elif retry.waiting and retry.due <= now:
                _drop_parked_fetches(consumer, partition)
                consumer.seek(partition, retry.offset)
                consumer.resume(partition)
                retry.waiting = False

    def _poll(
        self, consumer: KafkaConsumer, stop: threading.Event
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next records; none while the cluster cannot be reached, which the worker waits out.

        kafka-python raises from poll() when no broker answers (a broker restart, an outage):
        ending the worker there would turn every Kafka outage into a crash loop of the workers.
        """
        try:
            return consumer.poll(timeout_ms=self._poll_timeout_ms())
        except KafkaError as error:
            log.warning(
                "%s: Kafka unreachable, polling again in %.0fs: %s", self.group, UNREACHABLE_WAIT_S, error
            )
            stop.wait(UNREACHABLE_WAIT_S)
            return {}

    def _poll_timeout_ms(self) -> int:
        """Poll no longer than until the next retry is due."""
        dues = [retry.due for retry in self._retries.values() if retry.waiting]
        if not dues:
            return POLL_TIMEOUT_MS
        return max(0, min(POLL_TIMEOUT_MS, int((min(dues) - time.monotonic()) * 1000)))

    def _report_lag(self, consumer: KafkaConsumer) -> None:
        """Set the lag gauge of every assigned partition, at most every few seconds."""
        now = time.monotonic()
        if now < self._lag_reported_at + LAG_REPORT_INTERVAL_S:
            return
        self._lag_reported_at = now
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            retry = self._retries.get(partition)
            try:
                position = retry.offset if retry is not None else consumer.position(partition, timeout_ms=0)
            except KafkaError:
                continue  # a position being reset or a partition just revoked: report it next time
            if highwater is not None and position is not None:
                CONSUMER_LAG.labels(self.group, partition.topic, str(partition.partition)).set(
                    max(0, highwater - position)
                )

    def process(self, record: ConsumerRecord) -> None:
        """Handle one record once; invalid or permanently failing records go to the dead letters."""
        try:
            event = parse_event(record.value)
            handler = self.handlers.get(event.type)
            if handler is None:
                EVENTS.labels(self.group, "ignored").inc()
                return
            data = validate_data(event.type, event.data)
            with self.pool.connection() as conn:
                outcome = self._handle(conn, handler, event, data)
            EVENTS.labels(self.group, outcome).inc()
        except (InvalidEvent, PermanentError) as error:
            self.dead_letter(record, f"{type(error).__name__}: {error}")

    def _handle(
        self, conn: psycopg.Connection, handler: Handler, event: CloudEvent, data: dict[str, Any]
    ) -> str:
        """Run the handler once per event: in one transaction with the inbox row, or, for a group
        whose handlers deduplicate by themselves (inbox=False), on the autocommit connection."""
        if not self.inbox:
            handler(conn, event, data)
            return "handled"
        with conn.transaction():
            if not claim_event(conn, self.group, event.id):
                return "duplicate"
            handler(conn, event, data)
        return "handled"

    def dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        """Put the record on the group's dead-letter topic with where it came from and why."""
        headers = list(record.headers or []) + [
            ("dlq.original.topic", record.topic.encode()),
            ("dlq.original.partition", str(record.partition).encode()),
            ("dlq.original.offset", str(record.offset).encode()),
            ("dlq.consumer.group", self.group.encode()),
            ("dlq.reason", reason.encode()[:4000]),
            ("dlq.failed.at", datetime.now(UTC).isoformat().encode()),
        ]
        try:
            producer = self._get_dlq_producer()
            producer.send(
                dead_letter_topic(self.group), key=record.key, value=record.value, headers=headers
            ).get(timeout=30)
        except KafkaError as error:
            raise TransientError(f"could not write the dead letter: {error}") from error
        EVENTS.labels(self.group, "dead_lettered").inc()
        log.error("%s: dead-lettered %s: %s", self.group, _where(record), reason)

    def _commit(self, consumer: KafkaConsumer, done: dict[TopicPartition, int]) -> None:
        if not done:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in done.items()}
        try:
            consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # The group moved on; the records come again and the inbox makes that harmless.
            log.warning("%s: offset commit failed: %s", self.group, error)

    def _get_dlq_producer(self) -> KafkaProducer:
        if self._dlq_producer is None:
            self._dlq_producer = self.producer_factory(self.bootstrap_servers, client_id=f"{self.group}-dlq")
        return self._dlq_producer


def _drop_parked_fetches(consumer: KafkaConsumer, partition: TopicPartition) -> None:
    """Forget records kafka-python parked for the paused partition: the seek makes them obsolete.

    kafka-python 3.0.12 parks data fetched for a paused partition and stops fetching it until
    the data is restored, but restores it only when its in-line slot is None, while a drained
    batch can sit there for good: the resumed partition would then never be fetched again.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    for parked in ("_paused_partition_records", "_paused_completed_fetches"):
        getattr(fetcher, parked, {}).pop(partition, None)


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
