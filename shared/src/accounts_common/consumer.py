"""Idempotent Kafka consumer: handle each event once, retry what may pass, dead-letter the rest."""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter
from psycopg_pool import ConnectionPool, PoolTimeout

from accounts_common.events import CloudEvent, InvalidEvent, dead_letter_topic, parse_event, validate_data
from accounts_common.kafka import create_consumer, create_producer
from accounts_common.retry import Backoff

log = logging.getLogger(__name__)

EVENTS = Counter("consumer_events_total", "Records seen by a consumer, by outcome", ["group", "outcome"])


class TransientError(Exception):
    """Work that failed for a passing reason (SMTP 4xx, a dropped connection): try again later."""


class PermanentError(Exception):
    """Work that will never succeed as it is (SMTP 5xx, data we cannot use): dead-letter it."""


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
        consumer_factory: Callable[..., KafkaConsumer] = create_consumer,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        self.group = group
        self.topics = topics
        self.handlers = handlers
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.max_backoff = max_backoff
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self._dlq_producer: KafkaProducer | None = None

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, then commit what is done and leave the group."""
        consumer = self.consumer_factory(self.bootstrap_servers, group_id=self.group, topics=self.topics)
        log.info("consumer group %s reading %s", self.group, ", ".join(self.topics))
        try:
            while not stop.is_set():
                batch = consumer.poll(timeout_ms=500)
                done = self._process_batch(consumer, batch, stop)
                self._commit(consumer, done)
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
            for record in records:
                if not self._process_until_done(record, stop):
                    consumer.seek(partition, record.offset)
                    return done
                done[partition] = record.offset + 1
        return done

    def _process_until_done(self, record: ConsumerRecord, stop: threading.Event) -> bool:
        """Process one record, retrying passing failures with backoff; False if stopped first."""
        backoff = Backoff(base=0.5, cap=self.max_backoff)
        while not stop.is_set():
            try:
                self.process(record)
                return True
            except RETRYABLE as error:
                EVENTS.labels(self.group, "retried").inc()
                delay = backoff.next()
                log.warning("%s: retrying %s in %.1fs: %s", self.group, _where(record), delay, error)
                stop.wait(delay)
        return False

    def process(self, record: ConsumerRecord) -> None:
        """Handle one record once; invalid or permanently failing records go to the dead letters."""
        try:
            event = parse_event(record.value)
            handler = self.handlers.get(event.type)
            if handler is None:
                EVENTS.labels(self.group, "ignored").inc()
                return
            data = validate_data(event.type, event.data)
            with self.pool.connection() as conn, conn.transaction():
                if not claim_event(conn, self.group, event.id):
                    EVENTS.labels(self.group, "duplicate").inc()
                    return
                handler(conn, event, data)
            EVENTS.labels(self.group, "handled").inc()
        except (InvalidEvent, PermanentError) as error:
            self.dead_letter(record, f"{type(error).__name__}: {error}")

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


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
