"""Identity's settings, from the environment with working local defaults."""

import dataclasses
import logging
from dataclasses import dataclass, field

from accounts_common.codecrypt import DEV_KEY, fernet_keys
from accounts_common.config import database_url, env_int, env_str, kafka_bootstrap_servers, secret_key
from identity.domain.limits import Limit, LoginThrottle

log = logging.getLogger(__name__)

# Development only (ACCOUNTS_ENV=development): any other deployment must set real keys.
DEV_CODE_HMAC_KEY = "dev-only-code-hmac-key"
DEV_KEY_ENCRYPTION_KEY = "ZGV2LW9ubHktc2lnbmluZy1rZXktc2VhbC1rZXkhISE="
RATE_LIMIT_PREFIX = "IDENTITY_RATE_LIMIT_"


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
        overrides = {}
        for item in dataclasses.fields(cls):
            variable = RATE_LIMIT_PREFIX + item.name.upper()
            if raw := env_str(variable, ""):
                try:
                    overrides[item.name] = Limit.parse(raw)
                except ValueError as error:
                    raise ValueError(f"{variable}: {error}") from None
        return cls(**overrides)

    @classmethod
    def generous(cls, hits: int = 1_000_000) -> "RateLimits":
        """Every limit raised to `hits` per hour (benchmarks, fuzzing)."""
        return cls(**{item.name: Limit(hits, 3600) for item in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Settings:
    """Everything identity can be told; docs/operating/settings.md lists the variables."""

    database_url: str
    kafka_bootstrap_servers: str
    code_hmac_key: bytes
    code_encryption_keys: tuple[str, ...] = (DEV_KEY,)
    key_encryption_keys: tuple[str, ...] = (DEV_KEY_ENCRYPTION_KEY,)
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
    signing_keys_pem: str = ""
    signing_key_cache_s: int = 60
    trusted_proxy_hops: int = 0
    uniform_response_ms: int = 15
    rate_limits: RateLimits = field(default_factory=RateLimits)
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    topic_prefix: str = ""
    relay_metrics_port: int = 9101
    relay_metrics_host: str = "127.0.0.1"
    audit_consumer_group: str = "identity-audit"
    audit_metrics_port: int = 9110
    audit_metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> "Settings":
        """Read IDENTITY_* (and the shared KAFKA_BOOTSTRAP_SERVERS) variables."""
        return cls(
            database_url=database_url("identity"),
            kafka_bootstrap_servers=kafka_bootstrap_servers(),
            code_hmac_key=secret_key("IDENTITY_CODE_HMAC_KEY", DEV_CODE_HMAC_KEY).encode(),
            code_encryption_keys=fernet_keys("CODE_ENCRYPTION_KEYS", DEV_KEY),
            key_encryption_keys=fernet_keys("IDENTITY_KEY_ENCRYPTION_KEYS", DEV_KEY_ENCRYPTION_KEY),
            password_policy=env_str("IDENTITY_PASSWORD_POLICY", "seed"),
            code_lifetime_s=env_int("IDENTITY_CODE_LIFETIME_S", 1800),
            code_max_attempts=env_int("IDENTITY_CODE_MAX_ATTEMPTS", 5),
            code_max_failures_per_day=env_int("IDENTITY_CODE_MAX_FAILURES_PER_DAY", 10),
            registration_ttl_s=env_int("IDENTITY_REGISTRATION_TTL_S", 7 * 24 * 3600),
            resend_cooldown_s=env_int("IDENTITY_RESEND_COOLDOWN_S", 60),
            codes_per_hour=env_int("IDENTITY_CODES_PER_HOUR", 5),
            codes_per_hour_all=env_int("IDENTITY_CODES_PER_HOUR_ALL", 20),
            access_token_ttl_s=env_int("IDENTITY_ACCESS_TOKEN_TTL_S", 900),
            reset_token_ttl_s=env_int("IDENTITY_RESET_TOKEN_TTL_S", 600),
            argon2_time_cost=env_int("IDENTITY_ARGON2_TIME_COST", 2),
            argon2_memory_kib=env_int("IDENTITY_ARGON2_MEMORY_KIB", 19 * 1024),
            argon2_parallelism=env_int("IDENTITY_ARGON2_PARALLELISM", 1),
            hash_nice=env_int("IDENTITY_HASH_NICE", 10),
            signing_keys_pem=env_str("IDENTITY_SIGNING_KEYS", ""),
            signing_key_cache_s=env_int("IDENTITY_SIGNING_KEY_CACHE_S", 60),
            trusted_proxy_hops=env_int("IDENTITY_TRUSTED_PROXY_HOPS", 0),
            uniform_response_ms=env_int("IDENTITY_UNIFORM_RESPONSE_MS", 15),
            topic_prefix=env_str("IDENTITY_TOPIC_PREFIX", ""),
            relay_metrics_port=env_int("IDENTITY_RELAY_METRICS_PORT", 9101),
            relay_metrics_host=env_str("IDENTITY_RELAY_METRICS_HOST", "127.0.0.1"),
            audit_consumer_group=env_str("IDENTITY_AUDIT_CONSUMER_GROUP", "identity-audit"),
            audit_metrics_port=env_int("IDENTITY_AUDIT_LOG_METRICS_PORT", 9110),
            audit_metrics_host=env_str("IDENTITY_AUDIT_LOG_METRICS_HOST", "127.0.0.1"),
            rate_limits=RateLimits.from_env(),
            login_throttle=LoginThrottle(
                free_failures=env_int("IDENTITY_LOGIN_FREE_FAILURES", 5),
                base_delay_s=env_int("IDENTITY_LOGIN_BASE_DELAY_S", 1),
                max_delay_s=env_int("IDENTITY_LOGIN_MAX_DELAY_S", 300),
                forget_after_s=env_int("IDENTITY_LOGIN_FORGET_AFTER_S", 900),
            ),
        )
