"""Access tokens: EdDSA (Ed25519) JWTs, signed with configured keys or keys kept in the database."""

import base64
import hashlib
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts_common.codecrypt import CodeCipher
from identity.adapters import account_store, session_store

if TYPE_CHECKING:
    from identity.settings import Settings

ISSUER = "identity"
ALGORITHM = "EdDSA"
KEY_CREATION_LOCK = 0x6B657973  # serialises the first key's creation across workers
CLOCK_SKEW_S = 30
PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


class InvalidToken(Exception):
    """The bearer token is not one of ours, or no longer valid; the message says why."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_pem(cls, pem: str) -> "SigningKey":
        """The key of one PEM block; ValueError unless it is an unencrypted Ed25519 private key."""
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("signing keys must be Ed25519 private keys (PKCS#8 PEM)")
        return cls(key_id(key), key)

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenClaims:
    """What identity needs from a verified token."""

    account_id: uuid.UUID
    jti: uuid.UUID
    issued_at: datetime
    amr: tuple[str, ...] = ("pwd",)


def key_id(private_key: Ed25519PrivateKey) -> str:
    """A stable kid: the start of the SHA-256 of the public key."""
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode()[:16]


def pem_of(private_key: Ed25519PrivateKey) -> str:
    """The private key as unencrypted PKCS#8 PEM."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class KeyRing(Protocol):
    def active_keys(self, conn: psycopg.Connection, *, refresh: bool = False) -> list[SigningKey]:
        """Every key tokens may be signed with, the one that signs first."""
        ...


class ConfiguredKeys:
    """Keys given by the operator (IDENTITY_SIGNING_KEYS): the first signs, all are published."""

    def __init__(self, pems: str) -> None:
        blocks = PEM_BLOCK.findall(pems)
        if not blocks:
            raise ValueError("IDENTITY_SIGNING_KEYS holds no PEM block")
        self._keys = [SigningKey.from_pem(block) for block in blocks]

    def active_keys(self, conn: psycopg.Connection, *, refresh: bool = False) -> list[SigningKey]:
        return self._keys


class DatabaseKeys:
    """Keys in the signing_keys table (sealed with the key-encryption keys), newest signing; re-read
    every `cache_s` so a rotation spreads."""

    def __init__(self, sealer: CodeCipher, cache_s: float) -> None:
        self.sealer = sealer
        self.cache_s = cache_s
        self._keys: list[SigningKey] = []
        self._loaded_at = -math.inf
        self._lock = threading.Lock()

    def active_keys(self, conn: psycopg.Connection, *, refresh: bool = False) -> list[SigningKey]:
        with self._lock:
            if refresh or time.monotonic() - self._loaded_at > self.cache_s:
                self._keys = _load_or_create_keys(conn, self.sealer)
                self._loaded_at = time.monotonic()
            return self._keys


def key_ring(settings: "Settings") -> KeyRing:
    """Configured keys when given, else the database's (created on first use, sealed at rest)."""
    if settings.signing_keys_pem.strip():
        return ConfiguredKeys(settings.signing_keys_pem)
    return DatabaseKeys(key_sealer(settings), settings.signing_key_cache_s)


def key_sealer(settings: "Settings") -> CodeCipher:
    """The cipher that seals the database's signing keys (IDENTITY_KEY_ENCRYPTION_KEYS)."""
    return CodeCipher(list(settings.key_encryption_keys))


class TokenIssuer:
    """Signs access tokens with the first active key, records each as a session, and checks them."""

    def __init__(self, ttl_s: int, keys: KeyRing) -> None:
        self.ttl_s = ttl_s
        self.keys = keys

    def issue(
        self,
        conn: psycopg.Connection,
        account: account_store.Account,
        *,
        verified: bool,
        amr: tuple[str, ...] = ("pwd",),
        roles: tuple[str, ...] = (),
    ) -> IssuedToken:
        """A new access token for the account, recorded in the caller's transaction. `amr` says how the
        person authenticated (RFC 8176); `roles` are the staff roles, which count only with "otp"."""
        key = self.keys.active_keys(conn)[0]
        issued = issued_at_for(account)
        expires = issued + timedelta(seconds=self.ttl_s)
        jti = uuid.uuid4()
        claims = {
            "iss": ISSUER,
            "sub": str(account.id),
            "email": account.email,
            "email_verified": verified,
            **({"locale": account.locale} if account.locale else {}),
            "iat": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": str(jti),
            "amr": list(amr),
            **({"roles": list(roles)} if roles else {}),
        }
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        session_store.insert_session(conn, jti, account.id, issued, expires)
        return IssuedToken(access_token=token, expires_in=self.ttl_s)

    def jwks(self, conn: psycopg.Connection) -> dict[str, Any]:
        """Every active public key, so tokens of a key being rotated out still verify."""
        # Read afresh, so a key another worker just added is published before anyone signs with it.
        return {"keys": [key.public_jwk() for key in self.keys.active_keys(conn, refresh=True)]}

    def decode(self, conn: psycopg.Connection, token: str) -> TokenClaims:
        """The claims of a token signed by one of our active keys and not expired; InvalidToken if not."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.key_for(conn, kid)
            claims = jwt.decode(
                token,
                key.private_key.public_key(),
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                leeway=CLOCK_SKEW_S,
                options={"require": ["sub", "jti", "iat", "exp"]},
            )
            return TokenClaims(
                account_id=uuid.UUID(claims["sub"]),
                jti=uuid.UUID(claims["jti"]),
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                amr=tuple(claims.get("amr") or ("pwd",)),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from None

    def key_for(self, conn: psycopg.Connection, kid: object) -> SigningKey:
        """The active key of that kid (read afresh once if unknown); InvalidToken if none is."""
        for refresh in (False, True):
            for key in self.keys.active_keys(conn, refresh=refresh):
                if key.kid == kid:
                    return key
        raise InvalidToken("the token was not signed by any active key")


def issued_at_for(account: account_store.Account) -> datetime:
    """Now in whole seconds, but never before the last password reset or role change (migration 002)."""
    now = datetime.now(UTC).replace(microsecond=0)
    valid_from = account.sessions_valid_from
    if valid_from is not None and valid_from > now:
        return valid_from
    return now


def _load_or_create_keys(conn: psycopg.Connection, sealer: CodeCipher) -> list[SigningKey]:
    """The active keys, newest first; the first caller ever creates one."""
    with conn.transaction():
        keys = _active_keys(conn, sealer)
        if keys:
            return keys
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (KEY_CREATION_LOCK,))
        keys = _active_keys(conn, sealer)
        if keys:
            return keys
        insert_signing_key(conn, sealer, Ed25519PrivateKey.generate())
        return _active_keys(conn, sealer)


def _active_keys(conn: psycopg.Connection, sealer: CodeCipher) -> list[SigningKey]:
    rows = conn.execute(
        "SELECT private_key_sealed FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid"
    ).fetchall()
    return [SigningKey.from_pem(sealer.decrypt(sealed)) for (sealed,) in rows]


def insert_signing_key(conn: psycopg.Connection, sealer: CodeCipher, private_key: Ed25519PrivateKey) -> str:
    """Add a key to the database, sealed; it signs from the next key refresh on. Returns its kid."""
    kid = key_id(private_key)
    conn.execute(
        "INSERT INTO signing_keys (kid, private_key_sealed) VALUES (%s, %s)",
        (kid, sealer.encrypt(pem_of(private_key))),
    )
    return kid


def retire_signing_keys(conn: psycopg.Connection, keep: int) -> int:
    """Retire all but the `keep` newest active keys; return how many were retired."""
    row = conn.execute(
        """UPDATE signing_keys SET retired_at = now()
           WHERE retired_at IS NULL AND kid NOT IN (
               SELECT kid FROM signing_keys WHERE retired_at IS NULL
               ORDER BY created_at DESC, kid LIMIT %s)
           RETURNING kid""",
        (keep,),
    ).fetchall()
    return len(row)
