"""Catalogue's settings, from the environment with working local defaults."""

from dataclasses import dataclass

from accounts_common.config import database_url, env_int, env_str, kafka_bootstrap_servers, secret_key
from catalogue.adapters.storage import bucket_and_prefix

DEV_DOWNLOAD_LINK_KEY = "dev-only-catalogue-download-link-key"


@dataclass(frozen=True)
class Settings:
    """Everything the catalogue can be told; docs/operating/settings.md lists the variables."""

    database_url: str
    kafka_bootstrap_servers: str
    download_link_key: bytes
    identity_jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    public_url: str = "http://127.0.0.1:8002"
    storage_root: str = ".state/catalogue-media"
    storage: str = ""  # s3://bucket[/prefix]; empty: the folder storage_root
    upload_root: str = ".state/catalogue-uploads"
    max_upload_bytes: int = 200 * 1024**3
    upload_expiry_s: int = 24 * 3600  # an upload not made into a video by then is removed
    transcoder_metrics_port: int = 9108
    relay_metrics_port: int = 9107
    relay_metrics_host: str = "127.0.0.1"
    transcoder_metrics_host: str = "127.0.0.1"
    transcoder_lease_s: int = 60
    transcoder_max_attempts: int = 3
    link_lifetime_s: int = 600
    x_accel_redirect_prefix: str = ""
    consumer_group: str = "catalogue"
    topic_prefix: str = ""
    port: int = 8002
    max_body_bytes: int = 256 * 1024
    worker_metrics_port: int = 9106
    worker_metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> "Settings":
        """Read CATALOGUE_* (and the shared KAFKA_BOOTSTRAP_SERVERS, IDENTITY_JWKS_URL) variables."""
        defaults = cls("", "", b"")
        return cls(
            database_url=database_url("catalogue"),
            kafka_bootstrap_servers=kafka_bootstrap_servers(),
            download_link_key=secret_key("CATALOGUE_DOWNLOAD_LINK_KEY", DEV_DOWNLOAD_LINK_KEY).encode(),
            identity_jwks_url=env_str("IDENTITY_JWKS_URL", defaults.identity_jwks_url),
            public_url=env_str("CATALOGUE_PUBLIC_URL", defaults.public_url).rstrip("/"),
            storage_root=env_str("CATALOGUE_STORAGE_ROOT", defaults.storage_root),
            storage=storage_location(env_str("CATALOGUE_STORAGE", "")),
            upload_root=env_str("CATALOGUE_UPLOAD_ROOT", defaults.upload_root),
            max_upload_bytes=env_int("CATALOGUE_MAX_UPLOAD_BYTES", defaults.max_upload_bytes),
            upload_expiry_s=env_int("CATALOGUE_UPLOAD_EXPIRY_S", defaults.upload_expiry_s),
            transcoder_metrics_port=env_int(
                "CATALOGUE_TRANSCODER_METRICS_PORT", defaults.transcoder_metrics_port
            ),
            relay_metrics_port=env_int("CATALOGUE_RELAY_METRICS_PORT", defaults.relay_metrics_port),
            relay_metrics_host=env_str("CATALOGUE_RELAY_METRICS_HOST", defaults.relay_metrics_host),
            transcoder_metrics_host=env_str(
                "CATALOGUE_TRANSCODER_METRICS_HOST", defaults.transcoder_metrics_host
            ),
            transcoder_lease_s=env_int("CATALOGUE_TRANSCODER_LEASE_S", defaults.transcoder_lease_s),
            transcoder_max_attempts=env_int(
                "CATALOGUE_TRANSCODER_MAX_ATTEMPTS", defaults.transcoder_max_attempts
            ),
            link_lifetime_s=env_int("CATALOGUE_LINK_LIFETIME_S", defaults.link_lifetime_s),
            x_accel_redirect_prefix=env_str("CATALOGUE_X_ACCEL_REDIRECT_PREFIX", "").rstrip("/"),
            consumer_group=env_str("CATALOGUE_CONSUMER_GROUP", defaults.consumer_group),
            topic_prefix=env_str("CATALOGUE_TOPIC_PREFIX", ""),
            port=env_int("CATALOGUE_PORT", defaults.port),
            max_body_bytes=env_int("CATALOGUE_MAX_BODY_BYTES", defaults.max_body_bytes),
            worker_metrics_port=env_int("CATALOGUE_WORKER_METRICS_PORT", defaults.worker_metrics_port),
            worker_metrics_host=env_str("CATALOGUE_WORKER_METRICS_HOST", defaults.worker_metrics_host),
        )


def storage_location(value: str) -> str:
    """CATALOGUE_STORAGE, checked at start-up (not in the first request): empty or s3://bucket[/prefix]."""
    if value:
        bucket_and_prefix(value)
    return value
