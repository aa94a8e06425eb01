"""Rate limits and the login-failure delay: how many requests a window allows, and for how long."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """At most `hits` requests per `window_s` seconds for one bucket (an IP or an email)."""

    hits: int
    window_s: int

    @classmethod
    def parse(cls, text: str) -> "Limit":
        """`"20/3600"` → 20 requests per hour; a clear error for anything else."""
        try:
            hits, window = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"a rate limit is written HITS/SECONDS, e.g. 20/3600; got {text!r}") from None
        if hits < 1 or window < 1:
            raise ValueError(f"a rate limit needs positive numbers; got {text!r}")
        return cls(hits, window)

    def __str__(self) -> str:
        return f"{self.hits}/{self.window_s}"


@dataclass(frozen=True)
class Decision:
    """Whether a request may go on; when not, how many seconds until it may."""

    allowed: bool
    retry_after_s: int = 0


def judge_window(limit: Limit, hits: int, window_age_s: float) -> Decision:
    """The decision for a bucket that has now seen `hits` requests in a window `window_age_s` old."""
    if hits <= limit.hits:
        return Decision(True)
    return Decision(False, max(1, math.ceil(limit.window_s - window_age_s)))


@dataclass(frozen=True)
class LoginThrottle:
    """After `free_failures` wrong passwords, each further one doubles the wait, up to `max_delay_s`."""

    free_failures: int = 5
    base_delay_s: int = 1
    max_delay_s: int = 300
    forget_after_s: int = 900

    def delay_after(self, failures: int) -> int:
        """Seconds the next login for that email must wait after `failures` consecutive failures."""
        if failures < self.free_failures:
            return 0
        doublings = min(failures - self.free_failures, 30)
        return min(self.max_delay_s, self.base_delay_s * 2**doublings)
