"""Composition root of the mailer's worker."""

from accounts_common.codecrypt import cipher_from_env
from mailer.adapters.smtp import SmtpSender
from mailer.messages import Envelope, Templates
from mailer.service_layer.handlers import Mailer, Sender
from mailer.settings import Settings


def smtp_sender(settings: Settings) -> SmtpSender:
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_s,
    )


def bootstrap(settings: Settings, sender: Sender) -> Mailer:
    """Wire the mailer from its settings, sending through `sender`."""
    return Mailer(
        sender=sender,
        templates=Templates(settings.language),
        cipher=cipher_from_env(),
        envelope=Envelope(settings.mail_from, settings.reply_to),
        product_name=settings.product_name,
    )
