"""Identity's settings, from the environment with working local defaults."""

import dataclasses
from dataclasses import dataclass

from accounts_common.codecrypt import DEV_KEY, fernet_keys
from accounts_common.config import (
    ServiceSettings,
    load_from_env,
    secret_setting,
    setting,
)
from identity.domain.limits import Limit, LoginThrottle

# Development only (ACCOUNTS_ENV=development): any other deployment must set real keys.
DEV_CODE_HMAC_KEY = "dev-only-code-hmac-key"
DEV_KEY_ENCRYPTION_KEY = "ZGV2LW9ubHktc2lnbmluZy1rZXktc2VhbC1rZXkhISE="
RATE_LIMITS = "IDENTITY_RATE_LIMIT"  # each limit is IDENTITY_RATE_LIMIT_<FIELD>
RATE_LIMIT_PREFIX = RATE_LIMITS + "_"


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per bucket and window; each is IDENTITY_RATE_LIMIT_<FIELD> as HITS/SECONDS."""

    # Per IP generous enough for many people behind one NAT; per email and IP tight (one person), and
    # per email from every IP together higher: one attacker's requests do not lock the owner out.
    register_per_ip: Limit = Limit(100, 3600)
    register_per_email: Limit = Limit(5, 3600)
    register_per_email_all: Limit = Limit(20, 3600)
    resend_per_ip: Limit = Limit(100, 3600)
    resend_per_email: Limit = Limit(10, 3600)
    resend_per_email_all: Limit = Limit(40, 3600)
    login_per_ip: Limit = Limit(100, 600)
    reset_per_ip: Limit = Limit(100, 3600)
    reset_per_email: Limit = Limit(5, 3600)
    reset_per_email_all: Limit = Limit(20, 3600)
    code_per_ip: Limit = Limit(200, 600)
    code_per_email: Limit = Limit(20, 600)
    completion_per_ip: Limit = Limit(100, 600)

    @classmethod
    def from_env(cls) -> "RateLimits":
        """The defaults, each overridden by its IDENTITY_RATE_LIMIT_* variable when set."""
        return load_from_env(cls, RATE_LIMITS, warn_unknown=False)

    @classmethod
    def generous(cls, hits: int = 1_000_000) -> "RateLimits":
        """Every limit raised to `hits` per hour (benchmarks, fuzzing)."""
        return cls(**{item.name: Limit(hits, 3600) for item in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Settings(ServiceSettings):
    """Everything identity can be told, beyond its database and Kafka; docs/operating/settings.md
    lists the variables (IDENTITY_<FIELD> unless a field names its own)."""

    env_prefix = "IDENTITY"

    code_hmac_key: bytes = secret_setting(DEV_CODE_HMAC_KEY)
    code_encryption_keys: tuple[str, ...] = setting(
        (DEV_KEY,), env="CODE_ENCRYPTION_KEYS", read=lambda variable: fernet_keys(variable, DEV_KEY)
    )
    key_encryption_keys: tuple[str, ...] = setting(
        (DEV_KEY_ENCRYPTION_KEY,), read=lambda variable: fernet_keys(variable, DEV_KEY_ENCRYPTION_KEY)
    )
    password_policy: str = "seed"
    code_lifetime_s: int = 1800
    code_max_attempts: int = 5
    code_max_failures_per_day: int = 10
    registration_ttl_s: int = 7 * 24 * 3600
    resend_cooldown_s: int = 60
    codes_per_hour: int = 5
    codes_per_hour_all: int = 20
    access_token_ttl_s: int = 900
    reset_token_ttl_s: int = 600
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    argon2_parallelism: int = 1
    hash_nice: int = 10
    max_body_bytes: int = 64 * 1024
    signing_keys_pem: str = setting("", env="IDENTITY_SIGNING_KEYS")
    # No longer than the other services' JWKS cache (accounts_common.auth.JwksCache): a key retired by
    # `identity rotate-key` stops verifying everywhere within 30 s, identity's own token checks included.
    signing_key_cache_s: int = 30
    trusted_proxy_hops: int = 0
    uniform_response_ms: int = 15
    rate_limits: RateLimits = setting(factory=RateLimits, env=RATE_LIMITS)
    login_throttle: LoginThrottle = setting(factory=LoginThrottle, env="IDENTITY_LOGIN")
    topic_prefix: str = ""
    port: int = 8001
    housekeeping_interval_s: int = 300
    relay_metrics_port: int = 9101
    relay_metrics_host: str = "127.0.0.1"
    audit_consumer_group: str = "identity-audit"
    audit_metrics_port: int = setting(9110, env="IDENTITY_AUDIT_LOG_METRICS_PORT")
    audit_metrics_host: str = setting("127.0.0.1", env="IDENTITY_AUDIT_LOG_METRICS_HOST")
