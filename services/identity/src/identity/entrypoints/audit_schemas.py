"""The audit trail's query and answer in identity's HTTP API (the staff pages read them)."""

from marshmallow import Schema, fields, validate

from accounts_common.paging import PageEnvelope, PageQuery, per_page_field
from accounts_common.textfields import WholeMatch
from identity.entrypoints.schemas import SearchedEmail

AS_OF = (
    "The trail as it stood at a listing's first page: pass the first answer's `as_of` with the later pages,"
    " so that actions recorded meanwhile (reading a page is one) neither repeat an entry nor skip one."
)
AUDIT_PER_PAGE = 100  # a page of the trail unless asked: as many as one answer held before paging


class AuditQuery(PageQuery):
    actor = SearchedEmail(
        load_default=None,
        validate=validate.Length(max=254),
        metadata={"description": "Only what this person (their email) did."},
    )
    action = fields.String(
        load_default=None,
        validate=WholeMatch(r"^[a-z]+(\.[a-z-]+)+$"),
        metadata={"description": "Only this action, e.g. staff.role-granted."},
    )
    since = fields.AwareDateTime(load_default=None, metadata={"description": "From this time on."})
    until = fields.AwareDateTime(load_default=None, metadata={"description": "Before this time."})
    as_of = fields.Integer(
        load_default=None, validate=validate.Range(min=0, max=2**63 - 1), metadata={"description": AS_OF}
    )
    per_page = per_page_field(AUDIT_PER_PAGE)


class AuditEntry(Schema):
    event_id = fields.UUID(required=True)
    at = fields.AwareDateTime(required=True)
    source = fields.String(required=True, metadata={"description": "The acting service, e.g. /identity."})
    actor_account_id = fields.UUID(required=True, allow_none=True)
    actor_email = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Null for the command line or an erased account."},
    )
    via = fields.String(required=True, metadata={"enum": ["api", "cli"]})
    action = fields.String(required=True)
    target = fields.String(required=True)
    outcome = fields.String(required=True, metadata={"enum": ["ok", "unchanged", "refused"]})


class AuditList(PageEnvelope):
    items = fields.List(fields.Nested(AuditEntry), required=True, metadata={"description": "Newest first"})
    as_of = fields.Integer(required=True, metadata={"description": AS_OF})
