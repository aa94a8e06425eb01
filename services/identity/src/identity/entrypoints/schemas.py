"""Request and response bodies of identity's HTTP API: they validate and document it (OpenAPI)."""

from marshmallow import Schema, fields, post_load, validate


class NormalisedEmail(fields.Email):
    """An email address, trimmed and lower-cased so one mailbox is one account."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


def email_field() -> fields.Email:
    return NormalisedEmail(required=True, validate=validate.Length(max=254))


class Credentials(Schema):
    email = email_field()
    # The policy (length, composition) is checked by the service so every broken rule is listed.
    password = fields.String(required=True, validate=validate.Length(max=4096))


class EmailOnly(Schema):
    email = email_field()


class CodeSubmission(Schema):
    email = email_field()
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))

    @post_load
    def strip_code(self, data, **kwargs):  # type: ignore[no-untyped-def]
        data["code"] = "".join(data["code"].split())
        return data


class RegistrationAccepted(Schema):
    status = fields.String(metadata={"example": "verification_pending"})
    email = fields.String()
    code_expires_in = fields.Integer(metadata={"description": "Seconds the emailed code stays valid."})


class AccessToken(Schema):
    status = fields.String(metadata={"example": "verified"})
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer()


class Accepted(Schema):
    status = fields.String(metadata={"example": "accepted"})


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
