"""Identity's settings, from the environment with working local defaults."""

import logging
from dataclasses import dataclass

from accounts_common.config import database_url, env_int, env_str, kafka_bootstrap_servers

log = logging.getLogger(__name__)

DEV_CODE_HMAC_KEY = "dev-only-code-hmac-key"


@dataclass(frozen=True)
class Settings:
    """Everything identity can be told; see README "Operating it" for the variables."""

    database_url: str
    kafka_bootstrap_servers: str
    code_hmac_key: bytes
    password_policy: str = "seed"
    code_lifetime_s: int = 1800
    code_max_attempts: int = 5
    resend_cooldown_s: int = 60
    codes_per_hour: int = 5
    access_token_ttl_s: int = 900
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    argon2_parallelism: int = 1
    max_body_bytes: int = 64 * 1024

    @classmethod
    def from_env(cls) -> "Settings":
        """Read IDENTITY_* (and the shared KAFKA_BOOTSTRAP_SERVERS) variables."""
        hmac_key = env_str("IDENTITY_CODE_HMAC_KEY", "")
        if not hmac_key:
            log.warning("IDENTITY_CODE_HMAC_KEY is not set: using the development key")
            hmac_key = DEV_CODE_HMAC_KEY
        return cls(
            database_url=database_url("identity"),
            kafka_bootstrap_servers=kafka_bootstrap_servers(),
            code_hmac_key=hmac_key.encode(),
            password_policy=env_str("IDENTITY_PASSWORD_POLICY", "seed"),
            code_lifetime_s=env_int("IDENTITY_CODE_LIFETIME_S", 1800),
            code_max_attempts=env_int("IDENTITY_CODE_MAX_ATTEMPTS", 5),
            resend_cooldown_s=env_int("IDENTITY_RESEND_COOLDOWN_S", 60),
            codes_per_hour=env_int("IDENTITY_CODES_PER_HOUR", 5),
            access_token_ttl_s=env_int("IDENTITY_ACCESS_TOKEN_TTL_S", 900),
            argon2_time_cost=env_int("IDENTITY_ARGON2_TIME_COST", 2),
            argon2_memory_kib=env_int("IDENTITY_ARGON2_MEMORY_KIB", 19 * 1024),
            argon2_parallelism=env_int("IDENTITY_ARGON2_PARALLELISM", 1),
        )
