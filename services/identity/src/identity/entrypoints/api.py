"""Identity's HTTP endpoints."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from accounts_common.web import Problem
from identity.bootstrap import Identity
from identity.entrypoints import schemas
from identity.service_layer import accounts

blp = Blueprint("accounts", __name__, url_prefix="/v1/accounts", description="Sign-up and verification")

CODE_PROBLEMS = {
    "invalid-code": "The code is not right. Check the email and try again.",
    "code-expired": "The code has expired. Ask for a new code.",
    "code-locked": "Too many wrong attempts for this code. Ask for a new code.",
}


def identity() -> Identity:
    return current_app.extensions["identity"]


@blp.route("")
class AccountsCollection(MethodView):
    @blp.arguments(schemas.Credentials)
    @blp.response(202, schemas.RegistrationAccepted)
    @blp.alt_response(422, schema=schemas.Problem, description="Invalid email or weak password")
    def post(self, body):
        """Create an account and email a verification code (the same answer for a known email)."""
        try:
            accounts.register(identity(), body["email"], body["password"])
        except accounts.WeakPassword as weak:
            raise Problem(
                422,
                "validation-error",
                "The password does not meet the policy; see errors.",
                errors={"password": weak.violations},
            ) from None
        return {
            "status": "verification_pending",
            "email": body["email"],
            "code_expires_in": identity().settings.code_lifetime_s,
        }


@blp.route("/verification")
class Verification(MethodView):
    @blp.arguments(schemas.CodeSubmission)
    @blp.response(200, schemas.AccessToken)
    @blp.alt_response(400, schema=schemas.Problem, description="invalid-code, code-expired or code-locked")
    def post(self, body):
        """Verify the account with the emailed code; answers an access token (the user is logged in)."""
        try:
            token = accounts.verify_account(identity(), body["email"], body["code"])
        except accounts.CodeRejected as rejected:
            slug = rejected.outcome.value
            raise Problem(400, slug, CODE_PROBLEMS[slug]) from None
        return {
            "status": "verified",
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
        }


@blp.route("/verification/resend")
class VerificationResend(MethodView):
    @blp.arguments(schemas.EmailOnly)
    @blp.response(202, schemas.Accepted)
    def post(self, body):
        """Send a new code, voiding the old one (always 202: it never tells whether the email is known)."""
        accounts.resend_verification(identity(), body["email"])
        return {"status": "accepted"}
