"""Composition root of the mailer's processes: the worker's Mailer and the web app's Support."""

from psycopg_pool import ConnectionPool

from accounts_common.codecrypt import CodeCipher
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.adapters.smtp import SmtpSender
from mailer.adapters.templates import Templates
from mailer.service_layer.dispatch import Dispatcher
from mailer.service_layer.handlers import Mailer
from mailer.service_layer.support import Support
from mailer.settings import Settings


def smtp_sender(settings: Settings) -> SmtpSender:
    """One SMTP connection, as configured."""
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_s,
    )


def bootstrap(settings: Settings, pool: ConnectionPool) -> Mailer:
    """Wire the mailer from its settings, logging deliveries in `pool`; `mailer.dispatcher.close()`
    ends its SMTP connections."""
    delivery_log = DeliveryLog(pool)
    senders = [smtp_sender(settings) for _ in range(settings.smtp_connections)]
    rate_limit = TokenBucket(settings.max_sends_per_second)
    return Mailer(
        dispatcher=Dispatcher(pool, senders, delivery_log, rate_limit),
        templates=Templates(settings.language),
        cipher=CodeCipher(list(settings.code_encryption_keys)),
        brands=settings.brands(),
        delivery_log=delivery_log,
        portal_url=settings.portal_url,
    )


def support(settings: Settings, pool: ConnectionPool) -> Support:
    """What the web app's support endpoints act with: the delivery log and the dead letters."""
    return Support(pool, settings.kafka_bootstrap_servers, settings.consumer_group)
