"""A token bucket that keeps one worker under its send rate, whatever its number of SMTP lanes."""

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` sends per second with bursts of up to `burst`; a rate of 0 means unlimited."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 0:
            raise ValueError(f"the send rate must not be negative, got {rate}")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.clock, self.sleep = clock, sleep
        self.tokens = self.capacity
        self.updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until there is one (lanes queue behind the one that sleeps)."""
        if self.rate == 0:
            return
        with self._lock:
            self._take()

    def _take(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            wait = (1 - self.tokens) / self.rate
            self.sleep(wait)
            # After exactly `wait` the bucket holds one token; account for it without re-reading
            # the clock, whose rounding could otherwise leave it a hair short again and again.
            self.updated = now + wait
            self.tokens = 1.0
        self.tokens -= 1
