"""Newsletter's settings, from the environment with working local defaults."""

from dataclasses import dataclass

from accounts_common.config import (
    ServiceSettings,
    secret_setting,
    setting,
    without_trailing_slash,
)

DEV_UNSUBSCRIBE_KEY = "dev-only-newsletter-unsubscribe-key-not-secret"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    """The newsletter's own settings, after its database and Kafka: NEWSLETTER_<FIELD> or the
    variable a field names (see docs/operating/settings.md)."""

    env_prefix = "NEWSLETTER"

    unsubscribe_key: bytes = secret_setting(DEV_UNSUBSCRIBE_KEY)
    portal_url: str = setting("http://127.0.0.1:8000", env="PORTAL_URL", parse=without_trailing_slash)
    jwks_url: str = setting("http://127.0.0.1:8001/.well-known/jwks.json", env="IDENTITY_JWKS_URL")
    consumer_group: str = "newsletter"
    topic_prefix: str = ""
    port: int = 8003
    fanout_batch_size: int = 1000
    max_body_bytes: int = 1024 * 1024
    worker_metrics_port: int = 9103
    worker_metrics_host: str = "127.0.0.1"
    relay_metrics_port: int = 9102
    relay_metrics_host: str = "127.0.0.1"
