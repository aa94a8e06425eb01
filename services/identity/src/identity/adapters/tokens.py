"""Access tokens: EdDSA (Ed25519) JWTs signed with keys kept in identity's database."""

import base64
import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from identity.adapters import repository

ISSUER = "identity"
KEY_CREATION_LOCK = 0x6B657973  # serialises the first key's creation across workers


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def _kid(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode()[:16]


def _public_jwk(key: SigningKey) -> dict[str, str]:
    raw = key.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA", "use": "sig"}


class TokenIssuer:
    """Signs access tokens with the newest active key and records each as a session."""

    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._key: SigningKey | None = None
        self._lock = threading.Lock()

    def issue(self, conn: psycopg.Connection, account: repository.Account, *, verified: bool) -> IssuedToken:
        """A new access token for the account, recorded in the caller's transaction."""
        key = self._signing_key(conn)
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + timedelta(seconds=self.ttl_s)
        jti = uuid.uuid4()
        claims = {
            "iss": ISSUER,
            "sub": str(account.id),
            "email": account.email,
            "email_verified": verified,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": str(jti),
        }
        token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
        repository.insert_session(conn, jti, account.id, now, expires)
        return IssuedToken(access_token=token, expires_in=self.ttl_s)

    def jwks(self, conn: psycopg.Connection) -> dict[str, Any]:
        """Every active public key, so tokens of a key being rotated out still verify."""
        self._signing_key(conn)
        return {"keys": [_public_jwk(key) for key in _active_keys(conn)]}

    def _signing_key(self, conn: psycopg.Connection) -> SigningKey:
        with self._lock:
            if self._key is None:
                self._key = _newest_key(conn)
            return self._key


def _active_keys(conn: psycopg.Connection) -> list[SigningKey]:
    rows = conn.execute(
        "SELECT kid, private_key_pem FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC"
    ).fetchall()
    return [
        SigningKey(kid, serialization.load_pem_private_key(pem.encode(), password=None))  # type: ignore[arg-type]
        for kid, pem in rows
    ]


def _newest_key(conn: psycopg.Connection) -> SigningKey:
    """The newest active key; the first caller ever creates one (a development convenience)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (KEY_CREATION_LOCK,))
        keys = _active_keys(conn)
        if keys:
            return keys[0]
        private_key = Ed25519PrivateKey.generate()
        key = SigningKey(_kid(private_key), private_key)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        conn.execute("INSERT INTO signing_keys (kid, private_key_pem) VALUES (%s, %s)", (key.kid, pem))
        return key
