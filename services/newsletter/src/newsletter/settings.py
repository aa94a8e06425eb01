"""Newsletter's settings, from the environment with working local defaults."""

from dataclasses import dataclass

from accounts_common.config import database_url, env_int, env_str, kafka_bootstrap_servers, secret_key

DEV_UNSUBSCRIBE_KEY = "dev-only-newsletter-unsubscribe-key-not-secret"


@dataclass(frozen=True)
class Settings:
    """Everything the newsletter can be told; docs/operating/settings.md lists the variables."""

    database_url: str
    kafka_bootstrap_servers: str
    unsubscribe_key: bytes
    portal_url: str = "http://127.0.0.1:8000"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    consumer_group: str = "newsletter"
    topic_prefix: str = ""
    fanout_batch_size: int = 1000
    max_body_bytes: int = 1024 * 1024
    worker_metrics_port: int = 9103
    worker_metrics_host: str = "127.0.0.1"
    relay_metrics_port: int = 9102
    relay_metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> "Settings":
        """Read NEWSLETTER_* (and the shared KAFKA_BOOTSTRAP_SERVERS, IDENTITY_JWKS_URL) variables."""
        defaults = cls("", "", b"")
        return cls(
            database_url=database_url("newsletter"),
            kafka_bootstrap_servers=kafka_bootstrap_servers(),
            unsubscribe_key=secret_key("NEWSLETTER_UNSUBSCRIBE_KEY", DEV_UNSUBSCRIBE_KEY).encode(),
            portal_url=env_str("PORTAL_URL", defaults.portal_url).rstrip("/"),
            jwks_url=env_str("IDENTITY_JWKS_URL", defaults.jwks_url),
            consumer_group=env_str("NEWSLETTER_CONSUMER_GROUP", defaults.consumer_group),
            topic_prefix=env_str("NEWSLETTER_TOPIC_PREFIX", ""),
            fanout_batch_size=env_int("NEWSLETTER_FANOUT_BATCH_SIZE", defaults.fanout_batch_size),
            worker_metrics_port=env_int("NEWSLETTER_WORKER_METRICS_PORT", defaults.worker_metrics_port),
            worker_metrics_host=env_str("NEWSLETTER_WORKER_METRICS_HOST", defaults.worker_metrics_host),
            relay_metrics_port=env_int("NEWSLETTER_RELAY_METRICS_PORT", defaults.relay_metrics_port),
            relay_metrics_host=env_str("NEWSLETTER_RELAY_METRICS_HOST", defaults.relay_metrics_host),
        )
