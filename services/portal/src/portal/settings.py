"""Portal's settings, from the environment with working local defaults."""

import os
import urllib.parse
from dataclasses import dataclass

from accounts_common.config import (
    FromEnvironment,
    in_development,
    parse_bool,
    parse_variable,
    secret_setting,
    setting,
    without_trailing_slash,
)

DEV_SECRET_KEY = "dev-only-portal-session-key-not-for-production"


def secure_cookies_unless_developing(variable: str) -> bool:
    """The variable when set; else Secure cookies, but for plain-HTTP local runs (development)."""
    raw = os.environ.get(variable)
    return parse_variable(variable, raw, parse_bool) if raw else not in_development()


def web_origin(url: str) -> str:
    """An http(s) address's origin (scheme, host and port; any path dropped), as a
    Content-Security-Policy names it."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// address, got {url!r}")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


@dataclass(frozen=True)
class Settings(FromEnvironment):
    """Everything the portal can be told: each field from PORTAL_<FIELD>; docs/operating/settings.md
    lists them."""

    env_prefix = "PORTAL"

    secret_key: str = secret_setting(DEV_SECRET_KEY, convert=str)
    identity_url: str = setting("http://127.0.0.1:8001", parse=without_trailing_slash)
    catalogue_url: str = setting("http://127.0.0.1:8002", parse=without_trailing_slash)
    newsletter_url: str = setting("http://127.0.0.1:8003", parse=without_trailing_slash)
    mailer_url: str = setting("http://127.0.0.1:8004", parse=without_trailing_slash)
    # Where browsers fetch posters, previews and downloads: the one other origin the pages may use.
    catalogue_origin: str = setting(
        "http://127.0.0.1:8002", env="PORTAL_CATALOGUE_PUBLIC_URL", parse=web_origin
    )
    secure_cookies: bool = setting(True, read=secure_cookies_unless_developing)
    api_timeout_s: float = 5.0
    resend_cooldown_s: int = 60
    code_lifetime_s: int = 1800
    port: int = 8000
    trusted_proxy_hops: int = 0
