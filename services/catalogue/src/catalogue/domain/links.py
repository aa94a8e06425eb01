"""Signed download links: HMAC over the grant, the rendition and the expiry (no I/O)."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum
from uuid import UUID


class LinkCheck(Enum):
    VALID = "valid"
    TAMPERED = "link-invalid"
    EXPIRED = "link-expired"


@dataclass(frozen=True)
class LinkClaims:
    """What a download link grants: one rendition, under one grant, until `expires` (Unix seconds)."""

    grant_id: UUID
    rendition_id: UUID
    expires: int


def sign(key: bytes, claims: LinkClaims) -> str:
    """The link's signature (URL-safe base64 of an HMAC-SHA256)."""
    message = f"download:v1:{claims.grant_id}:{claims.rendition_id}:{claims.expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def check(key: bytes, claims: LinkClaims, signature: str, now: float) -> LinkCheck:
    """Tampered when the signature does not match; expired when it does but its time is over."""
    if not hmac.compare_digest(sign(key, claims).encode(), signature.encode()):
        return LinkCheck.TAMPERED
    if now >= claims.expires:
        return LinkCheck.EXPIRED
    return LinkCheck.VALID
