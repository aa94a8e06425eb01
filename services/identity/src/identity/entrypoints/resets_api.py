"""Identity's HTTP endpoints for a forgotten password: code, reset token, new password."""

from flask.views import MethodView
from flask_smorest import Blueprint

from identity.entrypoints import schemas
from identity.entrypoints.api import CODE_REFUSED, TOO_MANY, weak_password
from identity.entrypoints.http import client_ip, identity, problems, uniform_duration
from identity.service_layer import password_resets
from identity.service_layer.errors import WeakPassword
from identity.service_layer.limits import limit_ip

blp = Blueprint("password_resets", __name__, url_prefix="/v1/password-resets", description="Password reset")


@blp.route("")
class PasswordResets(MethodView):
    @blp.arguments(schemas.ResetRequest)
    @blp.response(202, schemas.Accepted)
    @problems(blp, {422: "Invalid email or return_to", 429: TOO_MANY})
    def post(self, body):
        """Email a password-reset code (always 202: it never tells whether the email is known)."""
        limit_ip(identity(), "reset", client_ip())
        with uniform_duration():
            password_resets.request_reset(
                identity(), body["email"], body.get("return_to"), requester=client_ip()
            )
        return {"status": "accepted"}


@blp.route("/verification")
class ResetVerification(MethodView):
    @blp.arguments(schemas.CodeSubmission)
    @blp.response(200, schemas.ResetTokenIssued)
    @problems(blp, {400: CODE_REFUSED, 429: TOO_MANY})
    def post(self, body):
        """Trade the emailed reset code for a short-lived, single-use reset token."""
        limit_ip(identity(), "code", client_ip())
        token = password_resets.verify_reset_code(identity(), body["email"], body["code"])
        return {"reset_token": token.reset_token, "expires_in": token.expires_in}


@blp.route("/completion")
class ResetCompletion(MethodView):
    @blp.arguments(schemas.ResetCompletion)
    @blp.response(200, schemas.PasswordUpdated)
    @problems(
        blp,
        {
            400: "invalid-reset-token: unknown, already used or expired",
            422: "Weak password (errors.new_password lists every broken rule)",
            429: "Too many requests from this address; see Retry-After",
        },
    )
    def post(self, body):
        """Set the new password; every session is revoked and nobody is logged in."""
        limit_ip(identity(), "completion", client_ip())
        try:
            password_resets.complete_reset(identity(), body["reset_token"], body["new_password"])
        except WeakPassword as weak:
            raise weak_password("new_password", weak) from None
        return {"status": "password_updated"}
