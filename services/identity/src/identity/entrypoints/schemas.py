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


class PasswordConfirmation(Schema):
    password = fields.String(required=True, validate=validate.Length(max=4096))


class ResetCompletion(Schema):
    reset_token = fields.String(required=True, validate=validate.Length(min=1, max=512))
    # Checked by the service against the policy, so every broken rule is listed.
    new_password = fields.String(required=True, validate=validate.Length(max=4096))


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


class Session(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the token stays valid."})


class Me(Schema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    verified = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class ResetTokenIssued(Schema):
    reset_token = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the token stays valid."})


class Accepted(Schema):
    status = fields.String(metadata={"example": "accepted"})


class PasswordUpdated(Schema):
    status = fields.String(required=True, metadata={"example": "password_updated"})


class Jwk(Schema):
    kty = fields.String(required=True)
    crv = fields.String()
    x = fields.String()
    kid = fields.String(required=True)
    alg = fields.String()
    use = fields.String()


class Jwks(Schema):
    keys = fields.List(fields.Nested(Jwk), required=True)
