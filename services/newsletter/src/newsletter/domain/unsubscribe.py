"""One-click unsubscribe tokens: the account id and an HMAC of it, so nobody can make one up.

A token does not expire: an issue may be read, and its link followed, months after it was sent.
Rotating NEWSLETTER_UNSUBSCRIBE_KEY voids the links of every mail already sent.
"""

import base64
import binascii
import hashlib
import hmac
import re
from uuid import UUID

PURPOSE = b"newsletter-unsubscribe:"
UNPADDED_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    """The bytes of the one spelling `_encode` gives them: no padding, no other alphabet, no stray
    characters, no unused bits set (so one token has one text, and a link cannot be varied)."""
    if not UNPADDED_BASE64URL.fullmatch(text):
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _encode(raw) != text:
        raise ValueError("not the canonical spelling")
    return raw


def _signature(key: bytes, account_id: UUID) -> bytes:
    return hmac.new(key, PURPOSE + account_id.bytes, hashlib.sha256).digest()


def unsubscribe_token(key: bytes, account_id: UUID) -> str:
    """The token of the account's unsubscribe link."""
    return f"{_encode(account_id.bytes)}.{_encode(_signature(key, account_id))}"


def account_of_token(key: bytes, token: str) -> UUID | None:
    """The account a genuine token names; None for a malformed, altered or forged one."""
    account_part, _, signature_part = token.partition(".")
    try:
        account_id = UUID(bytes=_decode(account_part))
        signature = _decode(signature_part)
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(signature, _signature(key, account_id)):
        return None
    return account_id
