"""Request and response bodies of the newsletter's API (requests reject unknown fields)."""

from marshmallow import RAISE, Schema, fields, validate

from accounts_common.paging import PageEnvelope, PageQuery
from accounts_common.textfields import FreeText
from newsletter.domain.issues import HELD_BECAUSE

MAX_BODY_CHARS = 200_000  # Markdown; its text and html parts both travel in every delivery record
# The input guard takes dates of the years 1000 to 9998 (accounts_common.inputguard).
YEARS_THE_GUARD_TAKES = r"^(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
LANGUAGES_NOTE = "One per language, `en` and `fr`; a draft may lack one, sending it may not."


class Strict(Schema):
    class Meta:
        unknown = RAISE


class NoFields(Strict):
    """An empty JSON object (or no body at all)."""


class SubscriptionStatus(Schema):
    subscribed = fields.Boolean(required=True)
    since = fields.AwareDateTime(allow_none=True, metadata={"description": "null when not subscribed"})
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "When not subscribed: why the last subscription ended (`user`, `one_click`, "
            "`bounce`: mail to the address bounced), or null"
        },
    )


class Subjects(Strict):
    """One line each: the input guard refuses control characters (CR, LF) outside free text."""

    en = fields.String(validate=validate.Length(max=200))
    fr = fields.String(validate=validate.Length(max=200))


class Bodies(Strict):
    en = FreeText(validate=validate.Length(max=MAX_BODY_CHARS), metadata={"description": "Markdown"})
    fr = FreeText(validate=validate.Length(max=MAX_BODY_CHARS), metadata={"description": "Markdown"})


class IssueDraft(Strict):
    subject = fields.Nested(Subjects, required=True, metadata={"description": LANGUAGES_NOTE})
    body = fields.Nested(
        Bodies,
        required=True,
        metadata={
            "description": "Markdown (CommonMark; raw HTML is shown as text). " + LANGUAGES_NOTE
        },  # fmt: skip
    )


def copy_read(refusal: str) -> fields.AwareDateTime:
    """The issue's `updated_at` in the copy the editor read, given back with an action on it."""
    return fields.AwareDateTime(
        metadata={
            "description": (
                "The issue's `updated_at` in the copy the editor read: when it was edited since (another "
                f"editor, a new video), 409 issue-changed and {refusal}"
            )
        }
    )


class IssueRewrite(IssueDraft):
    updated_at = copy_read("nothing is written; without it, the texts are replaced whatever they are")


class Sending(Strict):
    send_at = fields.AwareDateTime(
        metadata={
            "description": (
                "RFC 3339; when absent (or at most two minutes past), the issue goes now; further "
                "past, 422 send-at-past"
            ),
            "pattern": YEARS_THE_GUARD_TAKES,
        }
    )
    updated_at = copy_read("nothing is sent (the console sends that of the copy confirmed)")


class Figures(Schema):
    recipients = fields.Integer(
        required=True,
        metadata={"description": "delivery requests made, each counted as it is recorded, before it goes"},
    )
    sent = fields.Integer(required=True, metadata={"description": "accepted by the receiving server"})
    failed = fields.Integer(required=True, metadata={"description": "failed for good, not a bounce"})
    bounced = fields.Integer(required=True, metadata={"description": "hard bounces (SMTP 5xx, DSN 5.x.x)"})
    unsubscribed = fields.Integer(
        required=True,
        metadata={
            "description": "recipients who unsubscribed by their own choice before another issue went out "
            "to them, each once, counted as they leave; it never goes down"
        },
    )


class IssueState(Schema):
    id = fields.UUID(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["draft", "scheduled", "sending", "sent", "cancelled"]),
    )
    subject = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    body = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    send_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    started_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    updated_at = fields.AwareDateTime(
        required=True, metadata={"description": "when its texts or status last changed"}
    )
    held_because = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(HELD_BECAUSE),
        metadata={
            "description": "Why a draft was scheduled and is no longer: the editor who scheduled it lost "
            "the newsletter-editor role (role-revoked) or their account (account-deleted) before it went. "
            "Null once it is scheduled or sent again, and for any other issue."
        },
    )
    figures = fields.Nested(Figures, required=True)


class IssueQuery(Strict, PageQuery):
    """A page of the issues: `page` and `per_page` alone."""


class IssueList(PageEnvelope):
    items = fields.List(fields.Nested(IssueState), required=True, metadata={"description": "newest first"})


class TestSent(Schema):
    email = fields.String(required=True, metadata={"description": "the editor's address it was sent to"})
    languages = fields.List(fields.String(), required=True)


class Rendering(Schema):
    subject = fields.String(required=True)
    html = fields.String(required=True, metadata={"description": "sanitised"})
    text = fields.String(required=True)


class Preview(Schema):
    en = fields.Nested(Rendering)
    fr = fields.Nested(Rendering)
