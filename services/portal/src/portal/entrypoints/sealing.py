"""Secrets the portal keeps in its session cookie, which is signed but not encrypted (anyone holding the
cookie reads it): sealed with Fernet (encrypted and authenticated, and dated) under a key of each
purpose's own, derived from the portal's secret key."""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal.entrypoints.web import portal


def cipher(purpose: bytes) -> Fernet:
    """Fernet with the key of `purpose`, derived (HKDF) from the portal's secret key."""
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return Fernet(base64.urlsafe_b64encode(kdf.derive(portal().settings.secret_key.encode())))


def seal(text: str, purpose: bytes) -> str:
    return cipher(purpose).encrypt(text.encode()).decode()


def unseal(sealed: object, purpose: bytes, ttl_s: int) -> str | None:
    """The text `seal` sealed for `purpose`; None for anything it did not make (a value an older portal
    kept unsealed), or one older than `ttl_s` seconds."""
    if not isinstance(sealed, str):
        return None
    try:
        return cipher(purpose).decrypt(sealed.encode(), ttl=ttl_s).decode()
    except InvalidToken:
        return None
