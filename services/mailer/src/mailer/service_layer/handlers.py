"""What the mailer does with each event it consumes."""

import math
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import psycopg

from accounts_common.codecrypt import CodeCipher
from accounts_common.consumer import Handler, PermanentError
from accounts_common.events import CloudEvent
from mailer.adapters import deliveries
from mailer.messages import Envelope, Templates, build_message


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Mailer:
    """The mailer's collaborators, and its event handlers."""

    def __init__(
        self,
        *,
        sender: Sender,
        templates: Templates,
        cipher: CodeCipher,
        envelope: Envelope,
        product_name: str,
    ) -> None:
        self.sender = sender
        self.templates = templates
        self.cipher = cipher
        self.envelope = envelope
        self.product_name = product_name

    def handlers(self) -> dict[str, Handler]:
        """Event type → handler, for the consumer runtime."""
        return {"CodeIssued": self.code_issued}

    def code_issued(self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        """Email the verification or password-reset code."""
        try:
            code = self.cipher.decrypt(data["code_encrypted"])
        except ValueError as error:
            raise PermanentError(str(error)) from None
        context = {
            "code": code,
            "purpose": data["purpose"],
            "minutes": _minutes_valid(event, data["expires_at"]),
        }
        self._deliver(conn, event, "code", data["account_id"], data["email"], context)

    def _deliver(
        self,
        conn: psycopg.Connection,
        event: CloudEvent,
        kind: str,
        account_id: Any,
        recipient: str,
        context: dict[str, Any],
    ) -> None:
        # The row is written before sending: in the same transaction, it also blocks a concurrent twin.
        if not deliveries.begin(conn, event.id, kind, account_id, recipient):
            return
        content = self.templates.render(kind, {"product_name": self.product_name, **context})
        message = build_message(self.envelope, recipient, content, event_id=event.id)
        self.sender.send(message)
        deliveries.mark_sent(conn, event.id, str(message["Message-ID"]))


def _minutes_valid(event: CloudEvent, expires_at: datetime) -> int:
    """The code's lifetime in minutes, counted from when it was issued."""
    try:
        issued = datetime.fromisoformat(event.time)
    except ValueError:
        issued = datetime.now(UTC)
    return max(1, math.ceil((expires_at - issued).total_seconds() / 60 - 0.01))
