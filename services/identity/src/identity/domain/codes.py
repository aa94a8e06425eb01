"""One-time codes: six random digits, kept only as an HMAC, checked in constant time."""

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

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


def code_mac(key: bytes, account_id: UUID, purpose: Purpose, code: str) -> bytes:
    """The HMAC stored in place of the code, bound to the account and purpose."""
    return hmac.new(key, f"{account_id}:{purpose}:{code}".encode(), hashlib.sha256).digest()


def judge(
    stored: StoredCode | None, submitted_mac: bytes, *, now: datetime, max_attempts: int
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
