"""Mailer's settings, from the environment with working local defaults (the local SMTP sink)."""

import re
import socket
from dataclasses import dataclass

from accounts_common.account_projection import REVOCATION_EXPIRIES
from accounts_common.codecrypt import DEV_KEY, fernet_keys
from accounts_common.config import (
    ServiceSettings,
    at_least,
    parse_float,
    setting,
    without_trailing_slash,
)
from accounts_common.events.topics import DEAD_LETTER_RETENTION_DAYS
from accounts_common.housekeeping import Expiry
from mailer.domain.messages import Brand, brands


@dataclass(frozen=True)
class Settings(ServiceSettings):
    """Everything the mailer can be told, beyond its database and Kafka: MAILER_<FIELD> unless a
    field names its own (SMTP_*, PORTAL_URL, ...); docs/operating/settings.md lists them."""

    env_prefix = "MAILER"

    # Refused at start-up (development or weak keys) by every mailer process, not only the worker.
    code_encryption_keys: tuple[str, ...] = setting(
        (DEV_KEY,), env="CODE_ENCRYPTION_KEYS", read=lambda variable: fernet_keys(variable, DEV_KEY)
    )
    smtp_host: str = setting("127.0.0.1", env="SMTP_HOST")
    smtp_port: int = setting(1025, env="SMTP_PORT")
    smtp_security: str = setting("none", env="SMTP_SECURITY")
    smtp_username: str = setting("", env="SMTP_USERNAME")
    smtp_password: str = setting("", env="SMTP_PASSWORD")
    smtp_timeout_s: float = setting(10.0, env="SMTP_TIMEOUT_S")
    smtp_connections: int = setting(8, parse=at_least(1))
    mail_from: str = setting("NATO Multimedia Account <no-reply@multimedia.localhost>", env="MAILER_FROM")
    reply_to: str = "support@multimedia.localhost"
    language: str = "en"
    product_name: str = "NATO Multimedia Account"
    # French mails: their banner, and the sender's name (MAILER_FROM's address).
    product_name_fr: str = "Compte multimédia OTAN"
    portal_url: str = setting("http://127.0.0.1:8000", env="PORTAL_URL", parse=without_trailing_slash)
    consumer_group: str = "mailer"
    topic_prefix: str = ""
    max_sends_per_second: float = 0.0
    retry_max_backoff_s: float = 30.0
    retry_time_limit_s: float = 3600.0
    handler_max_attempts: int = 5
    worker_instance_id: str = ""
    session_timeout_s: float = 10.0
    housekeeping_interval_s: float = 600.0
    delivery_log_days: float = 90.0
    # A dead letter replayed must still find its account's erasure, or its mail would bring the address
    # back: erased ids are kept at least as long as mailer.dlq keeps a letter.
    erased_accounts_days: float = setting(
        365.0, parse=at_least(float(DEAD_LETTER_RETENTION_DAYS), parse_float)
    )
    worker_metrics_port: int = 9104
    worker_metrics_host: str = "127.0.0.1"
    port: int = 8004
    identity_jwks_url: str = setting("http://127.0.0.1:8001/.well-known/jwks.json", env="IDENTITY_JWKS_URL")

    def brands(self) -> dict[str, Brand]:
        """The mails' brand in each language: English sends as MAILER_FROM, French under its own name;
        ValueError when a sender is not a usable address."""
        names = {"en": self.product_name, "fr": self.product_name_fr}
        return brands(self.mail_from, self.reply_to, names, default="en")

    def group_instance_id(self) -> str | None:
        """The worker's stable id in its consumer group (static membership), None for a dynamic member.

        Unless set, it is the host name and the worker's metrics port: unique on a host (the port is
        bound at start) and the same when the worker restarts there, so it gets its partitions back
        at once. Without a metrics port there is nothing unique to build it from: dynamic membership.
        """
        if self.worker_instance_id:
            return self.worker_instance_id
        if not self.worker_metrics_port:
            return None
        host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())
        return f"{self.consumer_group}-{host}-{self.worker_metrics_port}"

    def housekeeping(self) -> tuple[Expiry, ...]:
        """The mailer's rows that have served their time: old deliveries, long-erased account ids, and
        the sessions revoked (SessionRevoked) whose tokens expired, as in every service checking tokens."""
        return (
            Expiry("deliveries", "created_at", self.delivery_log_days * 86400),
            Expiry("erased_accounts", "erased_at", self.erased_accounts_days * 86400),
            *REVOCATION_EXPIRIES,
        )
