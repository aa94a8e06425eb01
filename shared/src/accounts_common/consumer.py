"""Idempotent Kafka consumer: handle each event once, retry what may pass, dead-letter the rest."""

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import FencedInstanceIdError, KafkaError
from prometheus_client import Counter
from psycopg_pool import ConnectionPool, PoolTimeout

from accounts_common.dead_letter_writer import DEAD_LETTER_MAX_BYTES, DeadLetterWriter
from accounts_common.events import InvalidEvent, parse_event, validate_data
from accounts_common.housekeeping import Expiry, Schedule, delete_expired
from accounts_common.inbox import Handler, handle_once
from accounts_common.kafka import (
    REFUSED,
    await_partitions,
    create_consumer,
    create_producer,
    not_authorized,
    rejoin_when_fenced,
)
from accounts_common.offsets import LagReport, PendingCommits
from accounts_common.retry_policy import (
    RETRYABLE,
    PartitionRetries,
    PartitionRetry,
    PermanentError,
    RetryLimits,
    TransientError,
    describe,
)

log = logging.getLogger(__name__)

EVENTS = Counter("consumer_events_total", "Records seen by a consumer, by outcome", ["group", "outcome"])
# Exported at 0 from the start: the first dead letter is then an increase an alert can see, not the
# birth of a series that increase() reads as nothing.
OUTCOMES = ("handled", "duplicate", "ignored", "retried", "dead_lettered")
POLL_TIMEOUT_MS = 500
UNREACHABLE_WAIT_S = 1.0  # between polls while no broker answers


# What handling a record left: nothing to wait for, pending work, or the error it raised.
Outcome = Future[None] | Exception | None


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
        retry_limits: RetryLimits | None = None,
        inbox: bool = True,
        without_inbox: Collection[str] = (),
        group_instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
        max_poll_records: int = 200,
        housekeeping: Sequence[Expiry] = (),
        housekeeping_interval_s: float = 600.0,
        keep_processed_events_days: float = 30.0,
        on_give_up: Callable[[str, str], None] | None = None,
        finish_batch: Callable[[], None] | None = None,
        consumer_factory: Callable[..., KafkaConsumer] = create_consumer,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        self.group = group
        self.topics = topics
        self.handlers = handlers
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.retry_limits = retry_limits or RetryLimits()
        self.inbox = inbox
        # Event types whose handlers change nothing when run twice: no inbox row, no transaction of
        # their own (a result counted per mail: one statement instead of four).
        self.without_inbox = frozenset(without_inbox)
        self.group_instance_id = group_instance_id
        self.session_timeout_ms = session_timeout_ms
        self.max_poll_records = max_poll_records
        # Inbox rows only need to outlive any redelivery; the service may add its own tables.
        inbox_expiry = Expiry("processed_events", "processed_at", keep_processed_events_days * 86400)
        self.housekeeping = (inbox_expiry, *housekeeping) if inbox else tuple(housekeeping)
        self.housekeeping_interval_s = housekeeping_interval_s
        self.on_give_up = on_give_up
        self.finish_batch = finish_batch
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self.dead_letters = DeadLetterWriter(
            group,
            lambda: producer_factory(
                bootstrap_servers, client_id=f"{group}-dlq", max_request_size=DEAD_LETTER_MAX_BYTES
            ),
        )
        self._retries = PartitionRetries(base_backoff, max_backoff)
        self._pending = PendingCommits(group)
        self._lag = LagReport(group)
        for outcome in OUTCOMES:
            EVENTS.labels(group, outcome)

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, then commit what is done and leave the group."""
        try:
            rejoin_when_fenced(self.group, self.group_instance_id, lambda: self._run_member(stop), stop)
        finally:
            self.dead_letters.close()

    def _run_member(self, stop: threading.Event) -> None:
        try:
            consumer = self.consumer_factory(
                self.bootstrap_servers,
                group_id=self.group,
                topics=self.topics,
                group_instance_id=self.group_instance_id,
                session_timeout_ms=self.session_timeout_ms,
                max_poll_records=self.max_poll_records,
            )
        except REFUSED as error:
            raise not_authorized(self.group, error) from None
        log.info(
            "consumer group %s (instance %s) reading %s",
            self.group,
            self.group_instance_id or "dynamic",
            ", ".join(self.topics),
        )
        self._retries.clear()
        self._pending.clear()
        housekeeping = Schedule(self.housekeeping_interval_s)
        try:
            await_partitions(consumer, self.topics, stop)
            while not stop.is_set():
                if housekeeping.due():
                    self._housekeep()
                self._retries.resume_due(consumer)
                batch = self._poll(consumer, stop)
                self._pending.add(self._process_batch(consumer, batch, stop))
                self._pending.commit_if_due(consumer)
                self._report_lag(consumer)
            self._pending.commit(consumer)
        except REFUSED as error:  # a login or an ACL refused, wherever: no retry fixes it
            raise not_authorized(self.group, error) from None
        finally:
            consumer.close(autocommit=False)

    def _process_batch(
        self,
        consumer: KafkaConsumer,
        batch: dict[TopicPartition, list[ConsumerRecord]],
        stop: threading.Event,
    ) -> dict[TopicPartition, int]:
        """Process records in partition order; return the next offset to commit per partition.

        Handlers run first (a partition stops at its first error), then `finish_batch` completes
        the work they left pending, then each partition's outcomes are settled in order.
        """
        started = self._start_batch(batch, stop)
        if self.finish_batch is not None:
            self.finish_batch()
        done: dict[TopicPartition, int] = {}
        for partition, outcomes in started.items():
            for record, outcome in outcomes:
                error = self._settle(record, outcome)
                if error is not None and not self._failed(consumer, partition, record, error):
                    break
                self._retries.passed(partition)
                done[partition] = record.offset + 1
            else:
                if len(outcomes) < len(batch[partition]) and not stop.is_set():
                    # It stopped at a record now dead-lettered: fetch the ones after it again.
                    consumer.seek(partition, done[partition])
        return done

    def _start_batch(
        self, batch: dict[TopicPartition, list[ConsumerRecord]], stop: threading.Event
    ) -> dict[TopicPartition, list[tuple[ConsumerRecord, Outcome]]]:
        """Hand each record to its handler, in partition order, up to a partition's first error."""
        started: dict[TopicPartition, list[tuple[ConsumerRecord, Outcome]]] = {}
        for partition, records in batch.items():
            if self._retries.waiting(partition):
                continue  # fetched before the pause; the seek on resume brings them back
            outcomes = started.setdefault(partition, [])
            for record in records:
                if stop.is_set():
                    return started
                try:
                    outcomes.append((record, self.process(record)))
                except REFUSED:
                    raise
                except Exception as error:  # noqa: BLE001 - a poison record must not end the worker
                    outcomes.append((record, error))
                    break
        return started

    def _settle(self, record: ConsumerRecord, outcome: Outcome) -> Exception | None:
        """The record's error once its pending work is over (dead-lettered when permanent), or None."""
        if not isinstance(outcome, Future):
            return outcome
        try:
            outcome.result()
        except (InvalidEvent, PermanentError) as error:
            try:
                self.dead_letter(record, f"{type(error).__name__}: {error}")
            except TransientError as dlq_error:
                return dlq_error
        except Exception as error:  # noqa: BLE001 - retried or dead-lettered like a handler's error
            return error
        else:
            EVENTS.labels(self.group, "handled").inc()
        return None

    def _failed(
        self, consumer: KafkaConsumer, partition: TopicPartition, record: ConsumerRecord, error: Exception
    ) -> bool:
        """Dead-letter the record once its retries are used up (True: move on), else schedule a retry."""
        retry = self._retries.of(partition, record.offset)
        if not isinstance(error, RETRYABLE):
            log.error("%s: handler failed on %s", self.group, _where(record), exc_info=error)
        reason = self.retry_limits.give_up_reason(retry, error, _event_type(record))
        if reason is not None:
            try:
                self.dead_letter(record, reason)
            except TransientError as dlq_error:
                error = dlq_error
            else:
                self._tell_gave_up(record, reason)
                return True
        self._schedule_retry(consumer, partition, record, retry, error)
        return False

    def _tell_gave_up(self, record: ConsumerRecord, reason: str) -> None:
        """Let the service record that it gave up on the event (its own status, for operators)."""
        if self.on_give_up is None:
            return
        try:
            self.on_give_up(parse_event(record.value).id, reason)
        except Exception:  # noqa: BLE001 - the dead letter is written; a status left stale is all we lose
            log.warning("%s: could not record giving up on %s", self.group, _where(record), exc_info=True)

    def _schedule_retry(
        self,
        consumer: KafkaConsumer,
        partition: TopicPartition,
        record: ConsumerRecord,
        retry: PartitionRetry,
        error: Exception,
    ) -> None:
        """Pause the partition and come back to the failed record after a backoff; others keep flowing."""
        delay = retry.wait()
        consumer.pause(partition)
        EVENTS.labels(self.group, "retried").inc()
        log.warning("%s: retrying %s in %.1fs: %s", self.group, _where(record), delay, describe(error))

    def _poll(
        self, consumer: KafkaConsumer, stop: threading.Event
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next records; none while the cluster cannot be reached, which the worker waits out.

        kafka-python raises from poll() when no broker answers (a broker restart, an outage):
        ending the worker there would turn every Kafka outage into a crash loop of the workers.
        """
        try:
            return consumer.poll(timeout_ms=self._poll_timeout_ms())
        except (FencedInstanceIdError, *REFUSED):
            raise  # a rejoin, a login or an ACL refused: not an outage to wait out, the worker must stop
        except KafkaError as error:
            log.warning(
                "%s: Kafka unreachable, polling again in %.0fs: %s", self.group, UNREACHABLE_WAIT_S, error
            )
            stop.wait(UNREACHABLE_WAIT_S)
            return {}

    def _poll_timeout_ms(self) -> int:
        """Poll no longer than until the next retry or commit is due."""
        dues = [due for due in (self._retries.next_due(), self._pending.due_at()) if due is not None]
        if not dues:
            return POLL_TIMEOUT_MS
        wait_s = max(0.0, min(dues) - time.monotonic())  # clamped first: a due of -inf has no int
        return min(POLL_TIMEOUT_MS, int(wait_s * 1000))

    def _housekeep(self) -> None:
        """Delete expired rows; a database outage only postpones it to the next round."""
        if not self.housekeeping:
            return
        try:
            with self.pool.connection() as conn:
                delete_expired(conn, self.housekeeping)
        except (psycopg.Error, PoolTimeout) as error:
            log.warning("%s: housekeeping postponed: %s", self.group, error)

    def _report_lag(self, consumer: KafkaConsumer) -> None:
        """The lag gauges; a partition held back by a retry counts from its failed record."""
        self._lag.update(consumer, self._retries.held_at)

    def process(self, record: ConsumerRecord) -> "Future[None] | None":
        """Handle one record once; invalid or permanently failing records go to the dead letters.

        A Future when the handler left its work pending (see Handler).
        """
        try:
            event = parse_event(record.value)
            handler = self.handlers.get(event.type)
            if handler is None:
                EVENTS.labels(self.group, "ignored").inc()
                return None
            data = validate_data(event.type, event.data)
            with self.pool.connection() as conn:
                inbox = self.inbox and event.type not in self.without_inbox
                outcome = handle_once(conn, self.group, handler, event, data, inbox=inbox)
            if isinstance(outcome, Future):
                return outcome
            EVENTS.labels(self.group, outcome).inc()
        except (InvalidEvent, PermanentError) as error:
            self.dead_letter(record, f"{type(error).__name__}: {error}")
        return None

    def dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        """Put the record on the group's dead-letter topic with where it came from and why."""
        try:
            self.dead_letters.write(record, reason)
        except REFUSED:
            raise
        except KafkaError as error:
            raise TransientError(f"could not write the dead letter: {error}") from error
        EVENTS.labels(self.group, "dead_lettered").inc()
        log.error("%s: dead-lettered %s: %s", self.group, _where(record), reason)


def _event_type(record: ConsumerRecord) -> str | None:
    try:
        return parse_event(record.value).type
    except InvalidEvent:
        return None


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
