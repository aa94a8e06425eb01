"""Mailer's settings, from the environment with working local defaults (the local SMTP sink)."""

from dataclasses import dataclass

from accounts_common.config import database_url, env_float, env_int, env_str, kafka_bootstrap_servers


@dataclass(frozen=True)
class Settings:
    """Everything the mailer can be told; see README "Operating it" for the variables."""

    database_url: str
    kafka_bootstrap_servers: str
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_s: float = 10.0
    mail_from: str = "NATO Multimedia Account <no-reply@multimedia.localhost>"
    reply_to: str = "support@multimedia.localhost"
    language: str = "en"
    product_name: str = "NATO Multimedia Account"
    portal_url: str = "http://127.0.0.1:8000"
    consumer_group: str = "mailer"

    @classmethod
    def from_env(cls) -> "Settings":
        """Read MAILER_* and SMTP_* (and the shared KAFKA_BOOTSTRAP_SERVERS) variables."""
        defaults = cls("", "")
        return cls(
            database_url=database_url("mailer"),
            kafka_bootstrap_servers=kafka_bootstrap_servers(),
            smtp_host=env_str("SMTP_HOST", defaults.smtp_host),
            smtp_port=env_int("SMTP_PORT", defaults.smtp_port),
            smtp_security=env_str("SMTP_SECURITY", defaults.smtp_security),
            smtp_username=env_str("SMTP_USERNAME", ""),
            smtp_password=env_str("SMTP_PASSWORD", ""),
            smtp_timeout_s=env_float("SMTP_TIMEOUT_S", defaults.smtp_timeout_s),
            mail_from=env_str("MAILER_FROM", defaults.mail_from),
            reply_to=env_str("MAILER_REPLY_TO", defaults.reply_to),
            language=env_str("MAILER_LANGUAGE", defaults.language),
            product_name=env_str("MAILER_PRODUCT_NAME", defaults.product_name),
            portal_url=env_str("PORTAL_URL", defaults.portal_url),
            consumer_group=env_str("MAILER_CONSUMER_GROUP", defaults.consumer_group),
        )
