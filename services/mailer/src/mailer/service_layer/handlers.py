"""What the mailer does with each event it consumes."""

import math
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from jinja2 import TemplateError
from markupsafe import Markup

from accounts_common.account_projection import (
    REVOCATION_HANDLERS,
    record_account_deleted,
    record_password_reset,
)
from accounts_common.codecrypt import CodeCipher
from accounts_common.events import CloudEvent, InvalidEvent
from accounts_common.inbox import Handler
from accounts_common.retry_policy import PermanentError
from mailer.adapters import deliveries, suppressions
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.templates import Templates
from mailer.domain.messages import FALLBACK_LANGUAGE, Brand, OutgoingEmail, build_message
from mailer.service_layer import metrics
from mailer.service_layer.dispatch import Dispatcher, PendingEmail


@dataclass(kw_only=True, eq=False)
class Mailer:
    """The mailer's collaborators, and its event handlers."""

    dispatcher: Dispatcher
    templates: Templates
    cipher: CodeCipher
    brands: Mapping[str, Brand]
    delivery_log: DeliveryLog
    portal_url: str

    def handlers(self) -> dict[str, Handler]:
        """Event type → handler, for the consumer runtime. The revocations come first: the support
        endpoints check tokens against them like every service's."""
        return {
            **REVOCATION_HANDLERS,
            "CodeIssued": self.code_issued,
            "DuplicateSignupAttempted": self.duplicate_signup_attempted,
            "AccountVerified": self.account_verified,
            "PasswordReset": self.password_reset,
            "NewsletterDeliveryRequested": self.newsletter_delivery_requested,
            "NewsletterSubscribed": self.newsletter_subscribed,
            "AccountDeleted": self.account_deleted,
        }

    def code_issued(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> Future[None] | None:
        """Email the verification or password-reset code."""
        try:
            code = self.cipher.decrypt(data["code_encrypted"])
        except ValueError as error:
            raise PermanentError(str(error)) from None
        minutes = minutes_left(data["expires_at"], datetime.now(UTC))
        if minutes is None:
            reason = f"the code expired at {data['expires_at'].isoformat()} before it could be sent"
            self._skip(event.id, "code", data["account_id"], data["email"], reason)
            return None
        context = {"code": code, "purpose": data["purpose"], "minutes": minutes}
        return self._deliver(
            event, "code", data["account_id"], data["email"], context, locale=data.get("locale")
        )

    def duplicate_signup_attempted(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> Future[None]:
        """Tell an account's owner that someone tried to create an account with their address: the
        ways to log in and to reset the password, and no code (nobody waits for one in vain)."""
        context = {"login_url": f"{self.portal_url}/login", "reset_url": f"{self.portal_url}/password-reset"}
        locale = self._account_locale(data)
        return self._deliver(
            event, "account_exists", data["account_id"], data["email"], context, locale=locale
        )

    def account_verified(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> Future[None]:
        """Welcome the new account and invite it to the newsletter."""
        context = {"newsletter_url": f"{self.portal_url}/newsletter"}
        locale = self._account_locale(data)
        return self._deliver(event, "welcome", data["account_id"], data["email"], context, locale=locale)

    def password_reset(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> Future[None]:
        """Tell the account its password changed, with the way back to log in; its older tokens die."""
        record_password_reset(conn, event, data)
        # Back to the page the reset was asked from (a same-site path, checked by identity and the
        # event schema), else to the login page.
        context = {"login_url": f"{self.portal_url}{data.get('return_to') or '/login'}"}
        return self._deliver(
            event,
            "password_updated",
            data["account_id"],
            data["email"],
            context,
            locale=self._account_locale(data),
        )

    def _account_locale(self, data: dict[str, Any]) -> str | None:
        """The event's locale; for events that carry none (welcome, password updated), the language of
        the account's latest email that had one: its code mail."""
        return data.get("locale") or self.delivery_log.latest_locale(data["account_id"])

    def newsletter_delivery_requested(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> Future[None]:
        """Send one newsletter issue to one subscriber, with RFC 8058 one-click unsubscribe headers.
        The request says when the subscription began: taken as its NewsletterSubscribed would be, which
        comes on another topic and may not be handled yet (a bounce before it suppresses no more)."""
        account_id = _subscriber_account(event)
        if data.get("subscribed_at") is not None:
            suppressions.subscribed(conn, account_id, data["email"], data["subscribed_at"])
        unsubscribe_url = data["unsubscribe_url"]
        context = {
            "issue_subject": data["subject"],
            "issue_text": data["text"],
            # Trusted markup: only operators author issues (newsletter's operator endpoint), and an
            # issue's layout is theirs to make; escaping it would show the recipient raw tags.
            "issue_html": Markup(data["html"]),
            "unsubscribe_url": unsubscribe_url,
        }
        # The one-click URL only: a mailto: would go to a mailbox nothing reads.
        headers = {
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        return self._deliver(
            event,
            "newsletter",
            account_id,
            data["email"],
            context,
            headers,
            locale=data.get("locale"),
        )

    def newsletter_subscribed(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> None:
        """Subscribing again lifts a suppression after a bounce: the person says the mailbox works now
        (if it still does not, the next issue bounces and suppresses it again). A bounce of a mail
        sent before then, read late, suppresses nothing."""
        suppressions.subscribed(conn, data["account_id"], data["email"], data["at"])

    def account_deleted(self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        """Erase the account's addresses from the delivery log (idempotent: a redelivery is harmless);
        its tokens die."""
        record_account_deleted(conn, event, data)
        deliveries.erase_account(conn, data["account_id"])

    def gave_up(self, event_id: str, reason: str) -> None:
        """The consumer dead-lettered the event after its retries: the delivery failed for good."""
        self.delivery_log.mark_failed(event_id, reason, permanent=True)

    def _deliver(
        self,
        event: CloudEvent,
        kind: str,
        account_id: UUID | None,
        recipient: str,
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        locale: str | None = None,
    ) -> Future[None]:
        """Send one email once, with the batch, in the recipient's language (`locale`), else in the
        configured one."""

        def compose() -> OutgoingEmail:
            brand = self._brand(locale)
            try:
                content = self.templates.render(
                    kind,
                    {"product_name": brand.product_name, "portal_url": self.portal_url, **context},
                    language=locale,
                )
                return build_message(
                    brand.envelope, recipient, content, event_id=event.id, extra_headers=headers
                )
            except (TemplateError, ValueError, TypeError) as error:
                raise PermanentError(f"cannot compose the email: {error}") from None

        event_id = str(UUID(event.id))  # the delivery log's spelling of it
        return self.dispatcher.submit(PendingEmail(event_id, kind, account_id, recipient, locale, compose))

    def _brand(self, locale: str | None) -> Brand:
        """The brand of the language the templates choose: the recipient's, else the configured one."""
        for language in (locale or "", self.templates.language, FALLBACK_LANGUAGE):
            if language in self.brands:
                return self.brands[language]
        return next(iter(self.brands.values()))

    def _skip(self, event_id: str, kind: str, account_id: Any, recipient: str | None, reason: str) -> None:
        """Record the email as not sent on purpose, and why."""
        self.delivery_log.skip(event_id, kind, account_id, recipient, reason)
        if not self._erased(event_id, kind, account_id):
            metrics.SKIPPED.labels(kind).inc()

    def _erased(self, event_id: str, kind: str, account_id: Any) -> bool:
        """True, and the email recorded as skipped without its address, when the account was deleted.

        Asked after the delivery row is written, so an erasure running meanwhile cannot be missed
        (see deliveries.erase_account).
        """
        if account_id is None or not self.delivery_log.erased(account_id):
            return False
        self.delivery_log.skip(event_id, kind, None, None, "the account was deleted")
        metrics.SKIPPED.labels(kind).inc()
        return True


def _subscriber_account(event: CloudEvent) -> UUID:
    """The account a newsletter mail is for: the event's subject (the schema checks only its data)."""
    try:
        return UUID(event.subject)
    except ValueError:
        raise InvalidEvent(f"subject {event.subject[:100]!r} is not an account id (a UUID)") from None


def minutes_left(expires_at: datetime, now: datetime) -> int | None:
    """Whole minutes the code is still valid for, rounded up; None once it has expired."""
    seconds = (expires_at - now).total_seconds()
    if seconds <= 0:
        return None
    return math.ceil(seconds / 60)
