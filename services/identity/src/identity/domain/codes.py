"""One-time codes: six random digits, kept only as an HMAC, checked in constant time."""

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

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
    failures_in_window: int = 0,
    max_failures_in_window: int | None = None,
) -> CodeOutcome:
    """The outcome of one attempt; `stored.attempts` already counts it, `failures_in_window` does not.

    Past `max_failures_in_window` wrong codes (for the email and purpose, across codes) every code is
    locked, even a right one, until the window ends.
    """
    if max_failures_in_window is not None and failures_in_window >= max_failures_in_window:
        return CodeOutcome.LOCKED
    if stored is None:
        return CodeOutcome.INVALID
    if stored.attempts > max_attempts:
        return CodeOutcome.LOCKED
    if now >= stored.expires_at:
        return CodeOutcome.EXPIRED
    if not hmac.compare_digest(stored.code_mac, submitted_mac):
        return CodeOutcome.INVALID
    return CodeOutcome.ACCEPTED
