"""The second factor: TOTP (RFC 6238: six digits, 30-second steps) and recovery codes for a lost phone.

A code is accepted for the current step or the one either side (clock drift), and only for a step
newer than the last accepted one: the same code never logs in twice, nor does an older one.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

ISSUER = "Multimedia Accounts"
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 10  # 80 bits: a SHA-256 is enough to keep them, no slow hash needed


def new_secret() -> str:
    """A random base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step `code` is right for, if newer than `last_step`; None when it is not accepted."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Codes shown to the person once, grouped for reading: `abcd-efgh-ijkl-mnop`."""
    return [_grouped(_random_base32()) for _ in range(RECOVERY_CODES)]


def recovery_code_hash(code: str) -> bytes:
    """What is kept of a recovery code; spelling (case, dashes, spaces) does not matter."""
    canonical = "".join(character for character in code.lower() if character.isalnum())
    return hashlib.sha256(canonical.encode()).digest()


def looks_like_totp(code: str) -> bool:
    """Six digits: a TOTP code; anything else is tried as a recovery code."""
    return len(code) == 6 and code.isascii() and code.isdigit()


def _random_base32() -> str:
    return base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()


def _grouped(text: str) -> str:
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))
