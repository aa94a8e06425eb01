"""Composition root: builds identity's collaborators once per process (after gunicorn forks)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher, Type
from psycopg_pool import ConnectionPool

from accounts_common.clock import utc_now
from accounts_common.codecrypt import CodeCipher
from accounts_common.db import create_pool
from identity.adapters.hashing import BackgroundHasher
from identity.adapters.ratelimits import RateLimiter
from identity.adapters.tokens import TokenIssuer, key_ring, key_sealer
from identity.domain.passwords import PasswordPolicy, common_passwords
from identity.settings import Settings


@dataclass
class Identity:
    """What the service layer needs: settings, the database pool and the crypto it uses."""

    settings: Settings
    pool: ConnectionPool
    policy: PasswordPolicy
    hasher: BackgroundHasher
    cipher: CodeCipher
    sealer: CodeCipher  # seals secrets at rest (TOTP secrets, like the signing keys)
    tokens: TokenIssuer
    limiter: RateLimiter
    # A hash of nothing anyone knows, verified when the email is unknown so that costs the same time.
    dummy_hash: str
    clock: Callable[[], datetime] = field(default=utc_now)


def password_hasher(settings: Settings) -> PasswordHasher:
    """argon2id with the configured cost (OWASP's minimum by default: m=19 MiB, t=2, p=1)."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


def bootstrap(settings: Settings | None = None, *, pool: ConnectionPool | None = None) -> Identity:
    """Wire identity from settings (the environment when none are given)."""
    settings = settings or Settings.load()
    hasher = BackgroundHasher(password_hasher(settings), settings.hash_nice)
    return Identity(
        settings=settings,
        pool=pool if pool is not None else create_pool(settings.database_url, name="identity"),
        policy=PasswordPolicy.named(settings.password_policy, common_passwords()),
        hasher=hasher,
        cipher=CodeCipher(list(settings.code_encryption_keys)),
        sealer=key_sealer(settings),
        tokens=TokenIssuer(settings.access_token_ttl_s, key_ring(settings)),
        limiter=RateLimiter(settings.code_hmac_key),
        dummy_hash=hasher.hash("no account has this password"),
    )
