"""The data of each event type, version 1. Readers exclude unknown fields (tolerant reader)."""

from typing import Any

from marshmallow import ValidationError, fields, validate

from accounts_common.events.base import EventData, meaning
from accounts_common.events.envelope import InvalidEvent
from accounts_common.events.videos import VideoPublished, VideoTextsChanged, VideoUnpublished
from accounts_common.roles import ROLES
from accounts_common.textfields import Mailbox, WholeMatch

ACCOUNT_ID = meaning("The account's id (a UUID that never changes); also the record key.")
EMAIL = meaning("The account's email address as identity normalised it.")


LOCALES = ("en", "fr")


def locale_field() -> fields.String:
    """Optional: the person's language, for the mails written to them (absent means English)."""
    return fields.String(validate=validate.OneOf(LOCALES))


class AccountData(EventData):
    """Base of the events and records about one account (its id is also the record key)."""

    account_id = fields.UUID(required=True, metadata=ACCOUNT_ID)
    email = Mailbox(required=True, metadata=EMAIL)


class UserRegistered(AccountData):
    registered_at = fields.AwareDateTime(required=True, metadata=meaning("When the account was created."))
    locale = locale_field()


class CodeIssued(EventData):
    account_id = fields.UUID(required=True)
    email = Mailbox(required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(["verification", "password_reset"]))
    code_encrypted = fields.String(required=True, validate=validate.Length(min=1))
    expires_at = fields.AwareDateTime(required=True)
    locale = locale_field()


class DuplicateSignupAttempted(AccountData):
    attempted_at = fields.AwareDateTime(
        required=True,
        metadata=meaning(
            "When someone asked to create an account with the address of this existing account: "
            "its owner is told, with the ways to log in and to reset the password (no code)."
        ),
    )
    locale = locale_field()


class AccountVerified(AccountData):
    verified_at = fields.AwareDateTime(
        required=True,
        metadata=meaning("When the person proved control of the mailbox (emailed code)."),
    )
    locale = locale_field()


class PasswordReset(AccountData):
    reset_at = fields.AwareDateTime(
        required=True, metadata=meaning("When the password changed: every session issued before is revoked.")
    )
    # Optional: the same-site portal path the reset was asked from ("password updated" mail button).
    return_to = fields.String(validate=WholeMatch(r"^/(?![/\\])\S*$"))
    locale = locale_field()


class AccountLocaleChanged(AccountData):
    locale = fields.String(
        required=True,
        validate=validate.OneOf(LOCALES),
        metadata=meaning("The language the person chose for the mails written to them from now on."),
    )
    changed_at = fields.AwareDateTime(required=True, metadata=meaning("When the person chose it."))


class AccountDeleted(EventData):
    account_id = fields.UUID(required=True, metadata=ACCOUNT_ID)
    deleted_at = fields.AwareDateTime(
        required=True, metadata=meaning("When the account was deleted: erase the person's data.")
    )


class StaffRoleChange(AccountData):
    """A staff role granted or revoked (the event's type says which)."""

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    changed_at = fields.AwareDateTime(
        required=True, metadata=meaning("When the role changed: every session issued before is revoked.")
    )
    actor_account_id = fields.UUID(
        required=True, allow_none=True, metadata=meaning("The admin who did it; null from the command line.")
    )


class StaffRoleGranted(StaffRoleChange):
    pass


class StaffRoleRevoked(StaffRoleChange):
    pass


class OperatorActionRecorded(EventData):
    """One thing a staff member (or the command line) did, for the audit trail."""

    actor_account_id = fields.UUID(
        required=True, allow_none=True, metadata=meaning("Who acted; null for the command line (`via: cli`).")
    )
    action = fields.String(
        required=True,
        validate=WholeMatch(r"^[a-z]+(\.[a-z-]+)+$"),
        metadata=meaning("What was done, as `<thing>.<verb>`: staff.role-granted, video.published, …"),
    )
    target = fields.String(
        required=True, validate=validate.Length(max=512), metadata=meaning("What it was done to.")
    )
    at = fields.AwareDateTime(required=True, metadata=meaning("When it was done."))
    outcome = fields.String(required=True, validate=validate.OneOf(["ok", "unchanged", "refused"]))
    via = fields.String(required=True, validate=validate.OneOf(["api", "cli"]))


class SessionRevoked(EventData):
    account_id = fields.UUID(required=True, metadata=ACCOUNT_ID)
    session_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata=meaning("The `jti` of the access token whose session ended: refuse that token."),
    )
    revoked_at = fields.AwareDateTime(required=True, metadata=meaning("When the session ended (logout)."))
    expires_at = fields.AwareDateTime(
        required=True,
        metadata=meaning("When the token would have expired anyway: the revocation may be forgotten after."),
    )


class AccountState(AccountData):
    """The value of an identity.accounts.v1 record: not an event, the account's latest state."""

    verified = fields.Boolean(
        required=True, metadata=meaning("Whether the person proved control of the mailbox.")
    )
    verified_at = fields.AwareDateTime(
        required=True, allow_none=True, metadata=meaning("When the account was verified; null until then.")
    )
    created_at = fields.AwareDateTime(required=True, metadata=meaning("When the account was created."))
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata=meaning("Counts the account's state changes: a higher version is a later state."),
    )


SUBSCRIBE_REASONS = ["user"]
UNSUBSCRIBE_REASONS = ["user", "one_click", "account_deleted", "bounce"]


class NewsletterSubscribed(EventData):
    account_id = fields.UUID(required=True)
    email = Mailbox(required=True)
    at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(SUBSCRIBE_REASONS))


class NewsletterUnsubscribed(EventData):
    account_id = fields.UUID(required=True)
    email = Mailbox(required=True)
    at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(UNSUBSCRIBE_REASONS))


class NewsletterDeliveryRequested(EventData):
    delivery_id = fields.UUID(required=True)
    issue_id = fields.UUID(required=True)
    email = Mailbox(required=True)
    subject = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=998), WholeMatch(r"^[^\r\n]*$", error="one line only")],
    )
    text = fields.String(required=True, validate=validate.Length(min=1))
    html = fields.String(required=True, validate=validate.Length(min=1))
    # RFC 8058 one-click unsubscribe wants https; plain http is accepted for local development.
    unsubscribe_url = fields.Url(required=True, schemes={"https", "http"}, require_tld=False)
    locale = locale_field()
    subscribed_at = fields.AwareDateTime(
        metadata=meaning(
            "When the recipient's subscription began (its NewsletterSubscribed's `at`): a suppression "
            "by the bounce of a mail sent before then no longer holds, even if that event is still on "
            "its way. Absent from test sends."
        )
    )


DELIVERY_ID = meaning(
    "The id of the event that asked for the email (for a newsletter mail, its NewsletterDeliveryRequested's "
    "delivery_id): the same email always has the same id."
)
EMAIL_KINDS = ["code", "account_exists", "welcome", "password_updated", "newsletter"]


class EmailResult(EventData):
    delivery_id = fields.UUID(required=True, metadata=DELIVERY_ID)
    kind = fields.String(
        required=True, validate=validate.OneOf(EMAIL_KINDS), metadata=meaning("Which mail it was.")
    )
    email = Mailbox(required=True, metadata=meaning("The address the mail was for."))
    account_id = fields.UUID(
        allow_none=True, metadata=meaning("The account the mail was for, when the mailer knows it.")
    )
    at = fields.AwareDateTime(required=True)


class EmailDelivered(EmailResult):
    """The receiving SMTP server accepted the mail (a DSN may still come back later: EmailFailed)."""


class EmailFailed(EmailResult):
    """The mail did not reach the mailbox and will not be tried again."""

    failure_class = fields.String(
        required=True,
        data_key="class",
        validate=validate.OneOf(["hard", "soft"]),
        metadata=meaning(
            "hard: the address does not take mail (SMTP 5xx for the recipient, a DSN's 5.x.x, or an "
            "address already suppressed after one); the mailer sends it no more newsletters. "
            "soft: anything else (given up after retries, the message refused)."
        ),
    )
    reason = fields.String(required=True, validate=validate.Length(max=1000))
    via = fields.String(
        required=True,
        validate=validate.OneOf(["smtp", "dsn", "suppressed"]),
        metadata=meaning("How the failure was learnt: the SMTP reply, a DSN (RFC 3464), or a suppression."),
    )
    sent_at = fields.AwareDateTime(
        metadata=meaning(
            "When the mailer handed over the mail that showed the failure: the attempt refused (smtp), "
            "the mail the DSN returns (dsn), or the earlier mail whose hard bounce suppressed the "
            "address (suppressed). A hard failure of a mail sent before the account last subscribed "
            "to the newsletter neither suppresses the address nor ends that subscription. Absent "
            "from older events."
        )
    )


EVENT_SCHEMAS: dict[str, type[EventData]] = {
    "UserRegistered": UserRegistered,
    "CodeIssued": CodeIssued,
    "DuplicateSignupAttempted": DuplicateSignupAttempted,
    "AccountVerified": AccountVerified,
    "PasswordReset": PasswordReset,
    "AccountLocaleChanged": AccountLocaleChanged,
    "AccountDeleted": AccountDeleted,
    "StaffRoleGranted": StaffRoleGranted,
    "StaffRoleRevoked": StaffRoleRevoked,
    "OperatorActionRecorded": OperatorActionRecorded,
    "SessionRevoked": SessionRevoked,
    "NewsletterSubscribed": NewsletterSubscribed,
    "NewsletterUnsubscribed": NewsletterUnsubscribed,
    "NewsletterDeliveryRequested": NewsletterDeliveryRequested,
    "EmailDelivered": EmailDelivered,
    "EmailFailed": EmailFailed,
    "VideoPublished": VideoPublished,
    "VideoUnpublished": VideoUnpublished,
    "VideoTextsChanged": VideoTextsChanged,
}

# Record values that are not CloudEvents: the state records of compacted topics.
STATE_SCHEMAS: dict[str, type[EventData]] = {"AccountState": AccountState}


# One instance per type, reused: building a Schema deep-copies its fields, which cost a consumer
# more than the load itself (bench/mailer_throughput.py). Loading does not change the instance.
_LOADERS = {event_type: schema() for event_type, schema in EVENT_SCHEMAS.items()}


def validate_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The event's data loaded into Python values; InvalidEvent naming every bad field."""
    schema = _LOADERS.get(event_type)
    if schema is None:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    try:
        return schema.load(data)
    except ValidationError as error:
        raise InvalidEvent(f"invalid {event_type} data: {error.messages}") from None
