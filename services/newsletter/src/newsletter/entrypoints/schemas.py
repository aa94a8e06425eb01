"""Request and response bodies of the newsletter's API (requests reject unknown fields)."""

from marshmallow import RAISE, Schema, fields, validate

from accounts_common.textfields import FreeText

MAX_BODY_CHARS = 200_000  # text and html of an issue both travel in every delivery record


class Strict(Schema):
    class Meta:
        unknown = RAISE


class NoFields(Strict):
    """An empty JSON object (or no body at all)."""


class SubscriptionStatus(Schema):
    subscribed = fields.Boolean(required=True)
    since = fields.AwareDateTime(allow_none=True, metadata={"description": "null when not subscribed"})


class IssueDraft(Strict):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = FreeText(required=True, validate=validate.Length(min=1, max=MAX_BODY_CHARS))
    html = FreeText(required=True, validate=validate.Length(min=1, max=MAX_BODY_CHARS))


class IssueProgress(Schema):
    id = fields.UUID(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "fanning_out | complete"})
    requested = fields.Integer(
        required=True, metadata={"description": "delivery requests Kafka acknowledged"}
    )
    total = fields.Integer(
        required=True, metadata={"description": "subscribers when the issue was published"}
    )
    created_at = fields.AwareDateTime(required=True)
    completed_at = fields.AwareDateTime(allow_none=True)
