"""Backoff between retries of work that failed for a passing reason."""

import random


class Backoff:
    """Exponential backoff with jitter, capped; `reset` after a success."""

    def __init__(self, base: float = 0.2, cap: float = 10.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        """Seconds to wait before the next attempt."""
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        """Start again from the base delay."""
        self.attempt = 0
