"""Newsletter issues and the delivery requests they fan out to."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from accounts_common.events import CloudEvent

SOURCE = "/newsletter"
# The portal's unsubscribe page (portal.entrypoints.pages.unsubscribe).
UNSUBSCRIBE_PAGE = "/newsletter/unsubscribe"


@dataclass(frozen=True)
class Issue:
    """An issue and how far its fan-out went."""

    id: UUID
    subject: str
    text_body: str
    html_body: str
    created_at: datetime
    last_subscriber_id: int
    total: int
    high_water: int
    requested: int
    completed_at: datetime | None


@dataclass(frozen=True)
class Recipient:
    """A subscriber as the fan-out reads it: its row id (the resume point), its current address and
    its language (None: the mailer's default)."""

    subscriber_id: int
    account_id: UUID
    email: str
    locale: str | None = None


def delivery_id(issue_id: UUID, account_id: UUID) -> UUID:
    """The same id for the same issue and account every time: a replayed batch repeats its ids,
    and the mailer, which keeps one delivery per event id, sends each mail once."""
    return uuid5(issue_id, str(account_id))


def unsubscribe_url(portal_url: str, token: str, recipient: Recipient) -> str:
    """The recipient's one-click link: the portal's page (its look, in the recipient's language), which
    also takes the RFC 8058 POST."""
    language = f"&lang={recipient.locale}" if recipient.locale else ""
    return f"{portal_url}{UNSUBSCRIBE_PAGE}?token={token}{language}"


def delivery_request(issue: Issue, recipient: Recipient, unsubscribe_url: str, time: str) -> CloudEvent:
    """The NewsletterDeliveryRequested of one recipient, in its language; its event id is the delivery id."""
    event_id = str(delivery_id(issue.id, recipient.account_id))
    data = {
        "delivery_id": event_id,
        "issue_id": str(issue.id),
        "email": recipient.email,
        "subject": issue.subject,
        "text": issue.text_body,
        "html": issue.html_body,
        "unsubscribe_url": unsubscribe_url,
    }
    if recipient.locale:
        data["locale"] = recipient.locale
    return CloudEvent(
        type="NewsletterDeliveryRequested",
        source=SOURCE,
        subject=str(recipient.account_id),
        data=data,
        id=event_id,
        time=time,
    )
