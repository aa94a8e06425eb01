"""One-time codes: six random digits, kept only as an HMAC, checked in constant time."""

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_DIGITS = 6


class Purpose(enum.StrEnum):
    VERIFICATION = "verification"
    PASSWORD_RESET = "password_reset"


class CodeOutcome(enum.StrEnum):
    """What a submitted code amounts to; the values are the problem slugs of the failures."""

    ACCEPTED = "accepted"
    INVALID = "invalid-code"
    EXPIRED = "code-expired"
    LOCKED = "code-locked"


@dataclass(frozen=True)
class StoredCode:
    """A live code as the database returns it after counting the current attempt."""

    code_mac: bytes
    expires_at: datetime
    attempts: int


@dataclass(frozen=True)
class GuessLog:
    """The wrong codes of one email and purpose: when each of the latest came, and the lock that the
    cap-th of them within a window starts. At most `cap` in any window, and a lock lasts a window."""

    failed_at: tuple[datetime, ...] = ()
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, now: datetime, window: timedelta, cap: int) -> "GuessLog":
        """The log with one more wrong code; the cap-th within the window locks, and counting starts
        over once the lock ends."""
        recent = (*(time for time in self.failed_at if time > now - window), now)
        return GuessLog(locked_until=now + window) if len(recent) >= cap else GuessLog(recent)


def generate_code() -> str:
    """Six digits from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_mac(key: bytes, bound_to: str, purpose: Purpose, code: str) -> bytes:
    """The HMAC stored in place of the code, bound to what it unlocks (a registration, an email's
    reset) and its purpose."""
    return hmac.new(key, f"{bound_to}:{purpose}:{code}".encode(), hashlib.sha256).digest()


def decoy_mac() -> bytes:
    """A stored "code" that no code matches: it stands in where nothing must be unlocked."""
    return secrets.token_bytes(hashlib.sha256().digest_size)


def email_key(key: bytes, email: str) -> bytes:
    """The key of an email's counters and reset slot, known account or not (no address stored)."""
    return hmac.new(key, f"email:{email.lower()}".encode(), hashlib.sha256).digest()


def judge(
    stored: StoredCode | None,
    submitted_mac: bytes,
    *,
    now: datetime,
    max_attempts: int,
) -> CodeOutcome:
    """The outcome of one attempt; `stored.attempts` already counts it."""
    if stored is None:
        return CodeOutcome.INVALID
    if stored.attempts > max_attempts:
        return CodeOutcome.LOCKED
    if now >= stored.expires_at:
        return CodeOutcome.EXPIRED
    if not hmac.compare_digest(stored.code_mac, submitted_mac):
        return CodeOutcome.INVALID
    return CodeOutcome.ACCEPTED
