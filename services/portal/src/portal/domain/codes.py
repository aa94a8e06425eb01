"""When a new emailed code may be requested: identity always answers 202, so the portal keeps the pace."""

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeRequest:
    """The code mailed for one registration or reset: when it was sent and the wait before another."""

    sent_at: float
    cooldown_s: int

    @property
    def next_allowed_at(self) -> float:
        return self.sent_at + self.cooldown_s

    def seconds_to_wait(self, now: float) -> int:
        """Whole seconds until a new code may be requested (0: now)."""
        return max(0, int(self.next_allowed_at - now + 0.999))
