"""Request and response bodies of identity's HTTP API: they validate and document it (OpenAPI)."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from accounts_common.emails import searched_email
from accounts_common.problems import ProblemSchema
from accounts_common.returnpaths import SAME_SITE_PATH_PATTERN, is_same_site_path
from accounts_common.roles import ROLES
from accounts_common.textfields import WholeMatch
from identity.domain.codes import CODE_DIGITS
from identity.domain.emails import NOT_SPECIAL_USE, InvalidEmail, normalise_email
from identity.domain.passwords import MAX_PASSWORD_LENGTH, Password

LOCALES = ("en", "fr")
CODE_PATTERN = rf"^[0-9]{{{CODE_DIGITS}}}$"


class NormalisedEmail(fields.String):
    """An email address, validated and normalised (identity.domain.emails) so one mailbox is one account."""

    def __init__(self, **kwargs: Any) -> None:
        shown = {"format": "idn-email", "maxLength": 254, "pattern": NOT_SPECIAL_USE}
        super().__init__(metadata=shown, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_email(text)
        except InvalidEmail as error:
            raise ValidationError(str(error)) from None


class SearchedEmail(fields.String):
    """An email address searched for, as identity keeps it when it is one (accounts_common.emails)."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        return searched_email(super()._deserialize(value, attr, data, **kwargs))


def email_field() -> fields.String:
    return NormalisedEmail(required=True)


PREPARED = (
    'Compared in Unicode NFC (RFC 8265): "é" typed as one character or as "e" and a combining accent '
    "is one password."
)


class PasswordField(fields.String):
    """A password, handed to the service as a `Password`: every password identity receives comes
    through here, so each is prepared (Unicode NFC) the same way before the policy, argon2 or a login
    sees it. The policy's rules are checked by the service so every broken rule is listed; the schema
    states only the length every policy shares."""

    def __init__(self, **kwargs: Any) -> None:
        length = validate.Length(min=1, max=MAX_PASSWORD_LENGTH)
        super().__init__(validate=length, metadata={"description": PREPARED}, **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):  # type: ignore[no-untyped-def]
        text = super().deserialize(value, attr, data, **kwargs)  # validated as the string sent
        return Password(text) if isinstance(text, str) else text


def password_field() -> fields.String:
    return PasswordField(required=True)


class Credentials(Schema):
    email = email_field()
    password = password_field()


class Login(Schema):
    """The password, or the challenge its 401 mfa-required gave, with the second factor."""

    email = NormalisedEmail()
    password = PasswordField()
    challenge = fields.String(
        validate=validate.Length(min=1, max=2048),
        metadata={
            "description": "Instead of the email and password: the `challenge` of the 401 mfa-required "
            "that the right password answered (five minutes, and only while that password stands), "
            "sent with `totp`."
        },
    )
    totp = fields.String(
        validate=validate.Length(min=6, max=64),
        metadata={
            "description": "The second factor, for an account that has one (401 mfa-required without "
            "it): the 6-digit code of the authenticator app, or one of the recovery codes."
        },
    )
    # password_or_challenge, as the OpenAPI document says it (accounts_common.web.document_schema_rules).
    JSON_SCHEMA_RULES = {
        "oneOf": [
            {"required": ["email", "password"], "not": {"required": ["challenge"]}},
            {
                "required": ["challenge", "totp"],
                "not": {"anyOf": [{"required": ["email"]}, {"required": ["password"]}]},
            },
        ]
    }

    @validates_schema
    def password_or_challenge(self, data, **kwargs):  # type: ignore[no-untyped-def]
        needed = ("challenge", "totp") if "challenge" in data else ("email", "password")
        missing = {name: ["Missing data for required field."] for name in needed if name not in data}
        if missing:
            raise ValidationError(missing)
        if "challenge" in data and ({"email", "password"} & data.keys()):
            raise ValidationError(
                "The challenge replaces the email and password: send it with `totp` alone.", "challenge"
            )


class LoginProblem(ProblemSchema):
    challenge = fields.String(
        metadata={
            "description": "With mfa-required: send it back with `totp` instead of the email and "
            "password, within five minutes."
        }
    )


def locale_field(description: str, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(LOCALES), metadata={"description": description}, **kwargs)


class Registration(Credentials):
    locale = locale_field("The person's language for mails and pages (default: en).")


class LocaleChoice(Schema):
    locale = locale_field("The language of the mails written to the person from now on.", required=True)


class EmailOnly(Schema):
    email = email_field()


def same_site_path(value: str) -> None:
    if not is_same_site_path(value):
        raise ValidationError("Must be a path on this site (no scheme, host, backslash or spaces).")


class ResetRequest(EmailOnly):
    return_to = fields.String(
        validate=[validate.Length(max=512), same_site_path],
        metadata={
            "description": 'The portal path the "password updated" mail leads back to, e.g. /videos/42.',
            "pattern": SAME_SITE_PATH_PATTERN,
        },
    )


class RegistrationRef(EmailOnly):
    registration_id = fields.UUID(
        required=True, metadata={"description": "The id POST /v1/accounts answered for this registration."}
    )


class PasswordConfirmation(Schema):
    password = password_field()


class ResetCompletion(Schema):
    reset_token = fields.String(required=True, validate=validate.Length(min=1, max=512))
    new_password = password_field()


def code_field() -> fields.String:
    return fields.String(
        required=True,
        validate=WholeMatch(CODE_PATTERN, error=f"The code is {CODE_DIGITS} digits."),
        metadata={"pattern": CODE_PATTERN, "example": "123456"},
    )


class CodeSubmission(Schema):
    email = email_field()
    code = code_field()


class VerificationSubmission(RegistrationRef):
    code = code_field()


class RegistrationAccepted(Schema):
    status = fields.String(metadata={"example": "verification_pending"})
    email = fields.String()
    code_expires_in = fields.Integer(metadata={"description": "Seconds the emailed code stays valid."})
    registration_id = fields.UUID(
        metadata={"description": "Opaque; send it with the code (and to ask for a new code)."}
    )


class AccessToken(Schema):
    status = fields.String(metadata={"example": "verified"})
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer()


class Session(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the token stays valid."})


class Account(Schema):
    """An account as its owner and support staff see it."""

    id = fields.UUID(required=True)
    email = fields.String(required=True)
    verified = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    locale = fields.String(required=True, metadata={"enum": list(LOCALES)})


class Me(Account):
    roles = fields.List(
        fields.String(metadata={"enum": list(ROLES)}),
        required=True,
        metadata={"description": "Staff roles held; they count only with `second_factor`."},
    )
    second_factor = fields.Boolean(
        required=True, metadata={"description": "This session was opened with a one-time code (TOTP)."}
    )


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


class TotpEnrolment(Schema):
    secret = fields.String(required=True, metadata={"description": "Base32, for typing into the app."})
    otpauth_uri = fields.String(required=True, metadata={"description": "The otpauth:// URI of the QR code."})


class TotpCode(Schema):
    code = fields.String(required=True, validate=WholeMatch(r"^[0-9]{6}$"))


class RecoveryCodes(Schema):
    recovery_codes = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Each logs in once instead of a TOTP code; shown only now."},
    )


class RoleChange(Schema):
    email = email_field()
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class RoleChanged(RoleChange):
    changed = fields.Boolean(required=True, metadata={"description": "False when nothing had to change."})


class StaffMember(Schema):
    account_id = fields.UUID(required=True)
    email = fields.String(required=True)
    roles = fields.List(fields.String(metadata={"enum": list(ROLES)}), required=True)
    mfa_enrolled = fields.Boolean(required=True)


class StaffList(Schema):
    staff = fields.List(fields.Nested(StaffMember), required=True)


class SupportAccount(Account):
    roles = fields.List(fields.String(metadata={"enum": list(ROLES)}), required=True)
    mfa_enrolled = fields.Boolean(required=True)


class CodeResend(Schema):
    pending = fields.Boolean(
        required=True, metadata={"description": "False when the account has no pending registration."}
    )


class Erasure(EmailOnly):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=200))
