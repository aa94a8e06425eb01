"""Newsletter issues and the delivery requests they fan out to."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from accounts_common.events import CloudEvent
from newsletter.domain.content import LANGUAGES, Rendered, render

SOURCE = "/newsletter"
# The portal's unsubscribe page (portal.entrypoints.pages.unsubscribe).
UNSUBSCRIBE_PAGE = "/newsletter/unsubscribe"


DEFAULT_LANGUAGE = "en"
STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled")
# Why a scheduled issue went back to draft: the editor who scheduled it lost the role, or their account.
HELD_BECAUSE = ("role-revoked", "account-deleted")
RENDERED_EMPTY = "Nothing to read: the body renders to an empty mail (only link definitions or comments?)."


@dataclass(frozen=True)
class Issue:
    """An issue: its text per language (Markdown), where it is in its life, and how far its fan-out went."""

    id: UUID
    status: str
    subjects: dict[str, str]
    bodies: dict[str, str]
    editor_id: UUID | None
    send_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    last_subscriber_id: int = 0
    total: int = 0
    high_water: int = 0
    requested: int = 0
    updated_at: datetime | None = None  # when its texts or status last changed: the copy an editor read
    held_because: str | None = None  # a draft again, scheduled by an editor who could no longer send it

    def missing(self) -> dict[str, list[str]]:
        """What each language lacks before the issue can go: {"subject.fr": ["Missing."]}, or {}."""
        return {
            f"{part}.{language}": ["Missing: every subscriber gets the issue in their language."]
            for language in LANGUAGES
            for part, texts in (("subject", self.subjects), ("body", self.bodies))
            if not (texts.get(language) or "").strip()
        } | self.rendered_empty()

    def rendered_empty(self) -> dict[str, list[str]]:
        """The written bodies that render to an empty mail (only link reference definitions or
        comments, say): the mailer cannot send an email with nothing in it."""
        return {
            f"body.{language}": [RENDERED_EMPTY]
            for language, mail in self.rendered().items()
            if not (mail.html.strip() and mail.text.strip())
        }

    def languages_written(self) -> list[str]:
        """The languages with both a subject and a body."""
        return [
            language
            for language in LANGUAGES
            if (self.subjects.get(language) or "").strip() and (self.bodies.get(language) or "").strip()
        ]

    def rendered(self, portal_url: str | None = None) -> dict[str, Rendered]:
        """The mail of each language written; with the `portal_url`, as it is mailed: links into the
        portal open it in the mail's language (not in the console's preview, which would switch the
        editor's own pages)."""
        return {
            language: render(
                self.subjects[language],
                self.bodies[language],
                None if portal_url is None else (portal_url, language),
            )
            for language in self.languages_written()
        }


@dataclass(frozen=True)
class Figures:
    """What became of an issue's mails, from the mailer's delivery results."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    unsubscribed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class IssueView:
    """An issue with its figures, as editors see it."""

    issue: Issue
    figures: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class Recipient:
    """A subscriber as the fan-out reads it: its row id (the resume point), its current address, its
    language (None: the mailer's default) and when its subscription began (None: a test send's)."""

    subscriber_id: int
    account_id: UUID
    email: str
    locale: str | None = None
    subscribed_at: datetime | None = None


def delivery_id(issue_id: UUID, account_id: UUID) -> UUID:
    """The same id for the same issue and account every time: a replayed batch repeats its ids,
    and the mailer, which keeps one delivery per event id, sends each mail once."""
    return uuid5(issue_id, str(account_id))


def unsubscribe_url(portal_url: str, token: str, recipient: Recipient) -> str:
    """The recipient's one-click link: the portal's page (its look, in the recipient's language), which
    also takes the RFC 8058 POST."""
    return f"{portal_url}{UNSUBSCRIBE_PAGE}?token={token}&lang={language_of(recipient)}"


def language_of(recipient: Recipient) -> str:
    """The language the recipient reads the issue in: their account's, else English."""
    return recipient.locale if recipient.locale in LANGUAGES else DEFAULT_LANGUAGE


def mail_for(mails: dict[str, Rendered], recipient: Recipient) -> Rendered:
    """The mail of the recipient's language; English for an issue written before issues had languages
    (it has English only)."""
    return mails.get(language_of(recipient)) or mails[DEFAULT_LANGUAGE]


def delivery_request(
    issue_id: UUID,
    mail: Rendered,
    recipient: Recipient,
    unsubscribe_url: str,
    time: str,
    event_id: UUID | None = None,
) -> CloudEvent:
    """The NewsletterDeliveryRequested of one recipient, with the mail of its language; its event id is
    the delivery id (derived from the issue and the account unless given: a test send's is new)."""
    event_id_text = str(event_id or delivery_id(issue_id, recipient.account_id))
    data = {
        "delivery_id": event_id_text,
        "issue_id": str(issue_id),
        "email": recipient.email,
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "unsubscribe_url": unsubscribe_url,
        "locale": language_of(recipient),
    }
    if recipient.subscribed_at is not None:
        data["subscribed_at"] = recipient.subscribed_at.isoformat()
    return CloudEvent(
        type="NewsletterDeliveryRequested",
        source=SOURCE,
        subject=str(recipient.account_id),
        data=data,
        id=event_id_text,
        time=time,
    )
