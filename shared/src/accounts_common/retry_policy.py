"""When failed work is tried again and when a consumer gives up on it: the two kinds of failure a
handler raises, a paused partition's retry state, and the limits after which a record is dead-lettered."""

import math
import time
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import PoolTimeout

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


@dataclass(frozen=True)
class RetryLimits:
    """When a failing record stops blocking its partition and goes to the dead letters.

    A transient error (SMTP 4xx, database down) is retried for `transient_seconds`; an unexpected
    exception (a bug, data the handler chokes on) `unexpected_attempts` times in all.
    """

    transient_seconds: float = 3600.0
    unexpected_attempts: int = 5

    def give_up_reason(self, retry: PartitionRetry, error: Exception) -> str | None:
        """Why the record is dead-lettered now, or None to retry it once more."""
        if isinstance(error, RETRYABLE):
            if retry.failing_for() >= self.transient_seconds:
                return f"still failing after {retry.failing_for():.0f}s of retries: {describe(error)}"
            return None
        if retry.attempts + 1 >= self.unexpected_attempts:
            return f"unexpected error, {retry.attempts + 1} attempt(s): {describe(error)}"
        return None


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
