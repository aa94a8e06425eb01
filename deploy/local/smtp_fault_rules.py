"""The faults of the SMTP fault handler (deploy/local/smtp_faults.py, whose docstring documents its
control API): what a fault is, how a PUT /api/fault body becomes one, which transactions and
recipients it is for, and the delivery status notification a `dsn` fault bounces with. No I/O here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from itertools import count
from typing import Any

from aiosmtpd.smtp import Envelope

SMTP_HOSTNAME = "smtp-faults.local"  # fixed: aiosmtpd would otherwise resolve the FQDN per connection


@dataclass
class Fault:
    """An injected SMTP failure, returned instead of accepting DATA."""

    code: int
    message: str
    remaining: int | None = None
    expires_at: float | None = None  # time.monotonic() deadline
    recipients: str | None = None  # only transactions to an address containing this
    dsn: bool = False  # accept, then bounce with a delivery status notification

    def applies_to(self, envelope: Envelope) -> bool:
        """True if this transaction is one the fault refuses."""
        return any(self.hits(str(rcpt)) for rcpt in envelope.rcpt_tos)

    def hits(self, address: str) -> bool:
        """True if the fault is for this recipient."""
        return self.recipients is None or self.recipients in address.lower()

    def expired(self, now: float) -> bool:
        """True once the count or the time is used up."""
        used_up = self.remaining is not None and self.remaining <= 0
        return used_up or (self.expires_at is not None and now >= self.expires_at)

    def describe(self, now: float) -> dict[str, Any]:
        """The JSON of one fault, as PUT /api/fault answers and GET /api/fault lists it."""
        left = None if self.expires_at is None else round(max(0.0, self.expires_at - now), 3)
        return {
            "active": True,
            "code": self.code,
            "message": self.message,
            "remaining_count": self.remaining,
            "remaining_seconds": left,
            "recipients": self.recipients,
            "dsn": self.dsn,
        }


def parse_fault(body: bytes, now: float) -> Fault:
    """Validate a PUT /api/fault body; raise ValueError with a reason."""
    try:
        spec = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = set(spec) - {"code", "message", "count", "seconds", "recipients", "dsn"}
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    code = spec.get("code")
    if type(code) is not int or not 400 <= code <= 599:
        raise ValueError("code must be an integer from 400 to 599")
    message = spec.get("message") or ("4.3.0" if code < 500 else "5.0.0") + " Fault injected"
    if not isinstance(message, str) or not message.isprintable():
        raise ValueError("message must be a single-line string")
    remaining = spec.get("count")
    if remaining is not None and (type(remaining) is not int or remaining < 1):
        raise ValueError("count must be a positive integer")
    seconds = spec.get("seconds")
    if seconds is not None and (type(seconds) not in (int, float) or not seconds > 0):
        raise ValueError("seconds must be a positive number")
    recipients = spec.get("recipients")
    if recipients is not None and (not isinstance(recipients, str) or not recipients.strip()):
        raise ValueError("recipients must be a non-empty string")
    dsn = spec.get("dsn", False)
    if type(dsn) is not bool:
        raise ValueError("dsn must be true or false")
    expires_at = None if seconds is None else now + seconds
    return Fault(
        code, message, remaining, expires_at, recipients.strip().lower() if recipients else None, dsn
    )


def delivery_status_notification(envelope: Envelope, fault: Fault) -> bytes:
    """The RFC 3464 bounce of a message the fault hits, as a relay sends it to the envelope sender."""
    first_word = fault.message.split()[0] if fault.message.split() else ""
    status = first_word if first_word[:2] in ("4.", "5.") else f"{fault.code // 100}.0.0"
    failed = [str(r) for r in envelope.rcpt_tos if fault.hits(str(r))]
    action = "failed" if fault.code >= 500 else "delayed"
    boundary = f"dsn-{next(DSN_BOUNDARIES)}-{int(time.time())}"
    original_headers = (envelope.original_content or b"").split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{SMTP_HOSTNAME}>",
        f"To: <{envelope.mail_from}>",
        "Subject: " + ("Undelivered Mail Returned to Sender" if fault.code >= 500 else "Delayed Mail"),
        f"Date: {formatdate()}",
        f"Message-ID: {make_msgid(domain=SMTP_HOSTNAME)}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"This is the mail system at {SMTP_HOSTNAME}. Your message could not be delivered to:",
        *(f"<{address}>: {fault.code} {fault.message}" for address in failed),
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {SMTP_HOSTNAME}",
    ]
    for address in failed:
        lines += ["", f"Final-Recipient: rfc822; {address}", f"Action: {action}", f"Status: {status}",
                  f"Diagnostic-Code: smtp; {fault.code} {fault.message}"]  # fmt: skip
    lines += [
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        original_headers,
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()


DSN_BOUNDARIES = count(1)
