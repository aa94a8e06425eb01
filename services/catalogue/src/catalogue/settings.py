"""Catalogue's settings, from the environment with working local defaults."""

from dataclasses import dataclass

from accounts_common.config import (
    ServiceSettings,
    at_least,
    secret_setting,
    setting,
    without_trailing_slash,
)
from catalogue.adapters.storage import bucket_and_prefix

DEV_DOWNLOAD_LINK_KEY = "dev-only-catalogue-download-link-key"


def storage_location(value: str) -> str:
    """CATALOGUE_STORAGE, checked at start-up (not in the first request): empty or s3://bucket[/prefix]."""
    if value:
        bucket_and_prefix(value)
    return value


@dataclass(frozen=True)
class Settings(ServiceSettings):
    """What the catalogue is told besides its database and Kafka (CATALOGUE_<FIELD>, or the variable
    a field names); docs/operating/settings.md explains each."""

    env_prefix = "CATALOGUE"

    download_link_key: bytes = secret_setting(DEV_DOWNLOAD_LINK_KEY)
    identity_jwks_url: str = setting("http://127.0.0.1:8001/.well-known/jwks.json", env="IDENTITY_JWKS_URL")
    public_url: str = setting("http://127.0.0.1:8002", parse=without_trailing_slash)
    storage_root: str = ".state/catalogue-media"
    storage: str = setting("", parse=storage_location)  # s3://bucket[/prefix]; empty: the folder storage_root
    upload_root: str = ".state/catalogue-uploads"
    # With a bucket: the size of an upload's S3 parts, each buffered by the request (S3's minimum: 5 MiB).
    upload_part_bytes: int = setting(8 * 1024 * 1024, parse=at_least(5 * 1024 * 1024))
    max_upload_bytes: int = 200 * 1024**3
    upload_expiry_s: int = 24 * 3600  # an upload not made into a video by then is removed
    transcoder_metrics_port: int = 9108
    relay_metrics_port: int = 9107
    relay_metrics_host: str = "127.0.0.1"
    transcoder_metrics_host: str = "127.0.0.1"
    transcoder_lease_s: int = 60
    transcoder_max_attempts: int = 3
    link_lifetime_s: int = 600
    x_accel_redirect_prefix: str = setting("", parse=without_trailing_slash)
    consumer_group: str = "catalogue"
    topic_prefix: str = ""
    port: int = 8002
    max_body_bytes: int = 256 * 1024
    worker_metrics_port: int = 9106
    worker_metrics_host: str = "127.0.0.1"
