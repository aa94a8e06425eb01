"""Portal's settings, from the environment with working local defaults."""

import os
from dataclasses import dataclass

from accounts_common.config import env_float, env_int, env_str, in_development, secret_key

DEV_SECRET_KEY = "dev-only-portal-session-key-not-for-production"


def env_bool(name: str, default: bool) -> bool:
    """The variable as a boolean (true/false, 1/0, yes/no)."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "1", "yes", "false", "0", "no"):
        raise ValueError(f"environment variable {name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


@dataclass(frozen=True)
class Settings:
    """Everything the portal can be told; docs/operating/settings.md lists the variables."""

    secret_key: str
    identity_url: str = "http://127.0.0.1:8001"
    catalogue_url: str = "http://127.0.0.1:8002"
    newsletter_url: str = "http://127.0.0.1:8003"
    mailer_url: str = "http://127.0.0.1:8004"
    secure_cookies: bool = True
    api_timeout_s: float = 5.0
    resend_cooldown_s: int = 60
    code_lifetime_s: int = 1800
    port: int = 8000
    trusted_proxy_hops: int = 0

    @classmethod
    def from_env(cls) -> "Settings":
        """Read the PORTAL_* variables."""
        defaults = cls("")
        return cls(
            secret_key=secret_key("PORTAL_SECRET_KEY", DEV_SECRET_KEY),
            identity_url=env_str("PORTAL_IDENTITY_URL", defaults.identity_url).rstrip("/"),
            catalogue_url=env_str("PORTAL_CATALOGUE_URL", defaults.catalogue_url).rstrip("/"),
            newsletter_url=env_str("PORTAL_NEWSLETTER_URL", defaults.newsletter_url).rstrip("/"),
            mailer_url=env_str("PORTAL_MAILER_URL", defaults.mailer_url).rstrip("/"),
            # Plain-HTTP local runs need cookies without the Secure flag.
            secure_cookies=env_bool("PORTAL_SECURE_COOKIES", not in_development()),
            api_timeout_s=env_float("PORTAL_API_TIMEOUT_S", defaults.api_timeout_s),
            resend_cooldown_s=env_int("PORTAL_RESEND_COOLDOWN_S", defaults.resend_cooldown_s),
            code_lifetime_s=env_int("PORTAL_CODE_LIFETIME_S", defaults.code_lifetime_s),
            port=env_int("PORTAL_PORT", defaults.port),
            trusted_proxy_hops=env_int("PORTAL_TRUSTED_PROXY_HOPS", defaults.trusted_proxy_hops),
        )
