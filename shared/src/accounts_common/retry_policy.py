"""When failed work is tried again and when a consumer gives up on it: the two kinds of failure a
handler raises, the paused partitions' retry state, and the limits after which a record is
dead-lettered."""

import math
import time
from dataclasses import dataclass, field

import psycopg
from kafka import KafkaConsumer, TopicPartition
from psycopg_pool import PoolTimeout

from accounts_common.kafka import drop_parked_fetches
from accounts_common.retry import Backoff


class TransientError(Exception):
    """Work that failed for a passing reason (SMTP 4xx, a dropped connection): try again later."""


class PermanentError(Exception):
    """Work that will never succeed as it is (SMTP 5xx, data we cannot use): dead-letter it."""


RETRYABLE = (TransientError, psycopg.OperationalError, PoolTimeout)


@dataclass
class PartitionRetry:
    """A partition paused on a record that failed, how often and since when, and when to try it again."""

    offset: int
    backoff: Backoff
    first_failed_at: float = field(default_factory=time.monotonic)
    attempts: int = 0
    due: float = -math.inf
    waiting: bool = False

    def wait(self) -> float:
        """Start the next backoff before retrying the record; the delay in seconds."""
        self.attempts += 1
        delay = self.backoff.next()
        self.due = time.monotonic() + delay
        self.waiting = True
        return delay

    def failing_for(self) -> float:
        """Seconds since the record first failed."""
        return time.monotonic() - self.first_failed_at


class PartitionRetries:
    """The partitions paused on a failed record, each resumed at that record once its backoff is over."""

    def __init__(self, base_backoff: float, max_backoff: float) -> None:
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._retries: dict[TopicPartition, PartitionRetry] = {}

    def clear(self) -> None:
        self._retries.clear()

    def waiting(self, partition: TopicPartition) -> bool:
        """True while the partition sits out its backoff (records fetched before the pause are skipped)."""
        retry = self._retries.get(partition)
        return retry is not None and retry.waiting

    def of(self, partition: TopicPartition, offset: int) -> PartitionRetry:
        """The retry state of the record at `offset`, a new one when the partition failed elsewhere."""
        retry = self._retries.get(partition)
        if retry is None or retry.offset != offset:
            retry = PartitionRetry(offset, Backoff(base=self.base_backoff, cap=self.max_backoff))
            self._retries[partition] = retry
        return retry

    def passed(self, partition: TopicPartition) -> None:
        """A record of the partition is done: it is not held back any more."""
        self._retries.pop(partition, None)

    def held_at(self, partition: TopicPartition) -> int | None:
        """The offset of the failed record holding the partition back, if any."""
        retry = self._retries.get(partition)
        return retry.offset if retry is not None else None

    def next_due(self) -> float | None:
        """When the first waiting partition is due (time.monotonic()), if any."""
        return min((retry.due for retry in self._retries.values() if retry.waiting), default=None)

    def resume_due(self, consumer: KafkaConsumer) -> None:
        """Seek paused partitions back to their failed record once their backoff is over."""
        assigned = consumer.assignment()
        now = time.monotonic()
        for partition, retry in list(self._retries.items()):
            if partition not in assigned:
                del self._retries[partition]  # revoked: its new owner starts from the committed offset
            elif retry.waiting and retry.due <= now:
                drop_parked_fetches(consumer, partition)
                consumer.seek(partition, retry.offset)
                consumer.resume(partition)
                retry.waiting = False


@dataclass(frozen=True)
class RetryLimits:
    """When a failing record stops blocking its partition and goes to the dead letters.

    A transient error (SMTP 4xx, database down) is retried for `transient_seconds`, but for the events
    of `outlasting`, for as long as it lasts; an unexpected exception (a bug, data the handler chokes
    on) `unexpected_attempts` times in all.
    """

    transient_seconds: float = 3600.0
    unexpected_attempts: int = 5
    # Dead-lettered, an erasure is lost with its letter once the dead-letter topic's retention is over,
    # and the person's data stays for good. Its partition waits for the database instead.
    outlasting: frozenset[str] = frozenset({"AccountDeleted"})

    def give_up_reason(
        self, retry: PartitionRetry, error: Exception, event_type: str | None = None
    ) -> str | None:
        """Why the record (an event of `event_type`, if it reads as one) is dead-lettered now, or None
        to retry it once more."""
        if isinstance(error, RETRYABLE):
            if retry.failing_for() >= self.transient_seconds and event_type not in self.outlasting:
                return f"still failing after {retry.failing_for():.0f}s of retries: {describe(error)}"
            return None
        if retry.attempts + 1 >= self.unexpected_attempts:
            return f"unexpected error, {retry.attempts + 1} attempt(s): {describe(error)}"
        return None


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
