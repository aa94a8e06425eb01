"""Mailer's settings, from the environment with working local defaults (the local SMTP sink)."""

import re
import socket
from dataclasses import dataclass

from accounts_common.config import database_url, env_float, env_int, env_str, kafka_bootstrap_servers
from accounts_common.housekeeping import Expiry


@dataclass(frozen=True)
class Settings:
    """Everything the mailer can be told; docs/operating/settings.md lists the variables."""

    database_url: str
    kafka_bootstrap_servers: str
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_s: float = 10.0
    smtp_connections: int = 8
    mail_from: str = "NATO Multimedia Account <no-reply@multimedia.localhost>"
    reply_to: str = "support@multimedia.localhost"
    unsubscribe_mailto: str = "unsubscribe@multimedia.localhost"
    language: str = "en"
    product_name: str = "NATO Multimedia Account"
    # French mails: their banner, and the sender's name (MAILER_FROM's address).
    product_name_fr: str = "Compte multimédia OTAN"
    portal_url: str = "http://127.0.0.1:8000"
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
    erased_accounts_days: float = 365.0
    worker_metrics_port: int = 9104
    worker_metrics_host: str = "127.0.0.1"
    port: int = 8004
    identity_jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"

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
        """The mailer's rows that have served their time: old deliveries, long-erased account ids."""
        return (
            Expiry("deliveries", "created_at", self.delivery_log_days * 86400),
            Expiry("erased_accounts", "erased_at", self.erased_accounts_days * 86400),
        )

    @classmethod
    def from_env(cls) -> "Settings":
        """Read MAILER_* and SMTP_* (and the shared KAFKA_BOOTSTRAP_SERVERS, PORTAL_URL) variables."""
        defaults = cls("", "")
        settings = cls(
            database_url=database_url("mailer"),
            kafka_bootstrap_servers=kafka_bootstrap_servers(),
            smtp_host=env_str("SMTP_HOST", defaults.smtp_host),
            smtp_port=env_int("SMTP_PORT", defaults.smtp_port),
            smtp_security=env_str("SMTP_SECURITY", defaults.smtp_security),
            smtp_username=env_str("SMTP_USERNAME", ""),
            smtp_password=env_str("SMTP_PASSWORD", ""),
            smtp_timeout_s=env_float("SMTP_TIMEOUT_S", defaults.smtp_timeout_s),
            smtp_connections=env_int("MAILER_SMTP_CONNECTIONS", defaults.smtp_connections),
            mail_from=env_str("MAILER_FROM", defaults.mail_from),
            reply_to=env_str("MAILER_REPLY_TO", defaults.reply_to),
            unsubscribe_mailto=env_str("MAILER_UNSUBSCRIBE_MAILTO", defaults.unsubscribe_mailto),
            language=env_str("MAILER_LANGUAGE", defaults.language),
            product_name=env_str("MAILER_PRODUCT_NAME", defaults.product_name),
            product_name_fr=env_str("MAILER_PRODUCT_NAME_FR", defaults.product_name_fr),
            portal_url=env_str("PORTAL_URL", defaults.portal_url).rstrip("/"),
            consumer_group=env_str("MAILER_CONSUMER_GROUP", defaults.consumer_group),
            topic_prefix=env_str("MAILER_TOPIC_PREFIX", ""),
            max_sends_per_second=env_float("MAILER_MAX_SENDS_PER_SECOND", defaults.max_sends_per_second),
            retry_max_backoff_s=env_float("MAILER_RETRY_MAX_BACKOFF_S", defaults.retry_max_backoff_s),
            retry_time_limit_s=env_float("MAILER_RETRY_TIME_LIMIT_S", defaults.retry_time_limit_s),
            handler_max_attempts=env_int("MAILER_HANDLER_MAX_ATTEMPTS", defaults.handler_max_attempts),
            worker_instance_id=env_str("MAILER_WORKER_INSTANCE_ID", ""),
            session_timeout_s=env_float("MAILER_SESSION_TIMEOUT_S", defaults.session_timeout_s),
            housekeeping_interval_s=env_float(
                "MAILER_HOUSEKEEPING_INTERVAL_S", defaults.housekeeping_interval_s
            ),
            delivery_log_days=env_float("MAILER_DELIVERY_LOG_DAYS", defaults.delivery_log_days),
            erased_accounts_days=env_float("MAILER_ERASED_ACCOUNTS_DAYS", defaults.erased_accounts_days),
            worker_metrics_port=env_int("MAILER_WORKER_METRICS_PORT", defaults.worker_metrics_port),
            worker_metrics_host=env_str("MAILER_WORKER_METRICS_HOST", defaults.worker_metrics_host),
            port=env_int("MAILER_PORT", defaults.port),
            identity_jwks_url=env_str("IDENTITY_JWKS_URL", defaults.identity_jwks_url),
        )
        if settings.smtp_connections < 1:
            raise ValueError(f"MAILER_SMTP_CONNECTIONS must be at least 1, got {settings.smtp_connections}")
        return settings
