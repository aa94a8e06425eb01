"""Reading the mailer's emails and events in the end-to-end tests."""

import functools
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from accounts_common.codecrypt import CodeCipher, cipher_from_env


def headers_of(mail: dict[str, Any]) -> dict[str, str]:
    """A sink message's headers by lower-case name."""
    return {name.lower(): value for name, value in mail["headers"].items()}


def event_id_counts(mails: list[dict[str, Any]]) -> Counter[str]:
    """How many emails each event (X-Accounts-Event-Id) produced."""
    return Counter(headers_of(mail)["x-accounts-event-id"] for mail in mails)


@functools.cache
def cipher() -> CodeCipher:
    """The code cipher the mailer under test uses (the environment's, else the development key)."""
    return cipher_from_env()


def code_issued(email: str, code: str = "123456", purpose: str = "verification") -> dict[str, Any]:
    """CodeIssued data for a fresh account, the code encrypted as identity does."""
    now = datetime.now(UTC)
    return {
        "account_id": str(uuid.uuid4()),
        "email": email,
        "purpose": purpose,
        "code_encrypted": cipher().encrypt(code),
        "expires_at": (now + timedelta(minutes=30)).isoformat(),
    }


def newsletter_delivery(email: str, **changes: str) -> dict[str, str]:
    """NewsletterDeliveryRequested data for one issue to `email`, with `changes` over the defaults."""
    return {
        "delivery_id": str(uuid.uuid4()),
        "issue_id": str(uuid.uuid4()),
        "email": email,
        "subject": "Our latest updates",
        "text": "News.",
        "html": "<p>News.</p>",
        "unsubscribe_url": "https://newsletter.example.test/v1/unsubscribe?token=abc",
        **changes,
    }


def unfilled(text: str) -> bool:
    """True when template syntax was left in a rendered email."""
    return any(marker in text for marker in ("{{", "}}", "{%", "%}"))
