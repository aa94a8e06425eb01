"""Composition root of the mailer's processes."""

from psycopg_pool import ConnectionPool

from accounts_common.codecrypt import cipher_from_env
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.adapters.smtp import SmtpSender
from mailer.messages import Envelope, Templates
from mailer.service_layer.handlers import Mailer, Sender
from mailer.settings import Settings


def smtp_sender(settings: Settings) -> SmtpSender:
    """The SMTP connection of one worker, as configured."""
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_s,
    )


def bootstrap(settings: Settings, sender: Sender, pool: ConnectionPool) -> Mailer:
    """Wire the mailer from its settings, sending through `sender` and logging deliveries in `pool`."""
    return Mailer(
        sender=sender,
        templates=Templates(settings.language),
        cipher=cipher_from_env(),
        envelope=Envelope(settings.mail_from, settings.reply_to),
        delivery_log=DeliveryLog(pool),
        product_name=settings.product_name,
        portal_url=settings.portal_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        rate_limit=TokenBucket(settings.max_sends_per_second),
    )
