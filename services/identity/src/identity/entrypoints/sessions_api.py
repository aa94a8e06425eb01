"""Identity's HTTP endpoints for sessions: log in, log out."""

from flask.views import MethodView
from flask_smorest import Blueprint

from accounts_common.apidocs import BEARER_AUTH, NO_TOKEN
from accounts_common.problems import PROBLEM_JSON
from identity.entrypoints import schemas
from identity.entrypoints.http import bearer_token, client_ip, identity, problems
from identity.service_layer import sessions
from identity.service_layer.limits import limit_ip

blp = Blueprint("sessions", __name__, url_prefix="/v1/sessions", description="Log in and out")


@blp.route("")
class SessionsCollection(MethodView):
    @blp.arguments(schemas.Login)
    @blp.response(200, schemas.Session)
    @blp.alt_response(
        401,
        schema=schemas.LoginProblem,
        content_type=PROBLEM_JSON,
        description="Wrong email or password (one message for both); mfa-required: the account has a "
        "second factor, send `totp` with the problem's `challenge` (or with the email and password); "
        "invalid-second-factor: that code is not right; challenge-expired: the challenge is over five "
        "minutes old, not one of ours, or older than the account's password (log in again)",
    )
    @problems(
        blp,
        {
            403: "account-not-verified: the password is that of a registration not verified yet "
            "(the same answer whether or not the email already has an account)",
            429: "Too many attempts from this address, or too many failures for this email",
        },
    )
    def post(self, body):
        """Log in with email and password; an account with a second factor sends its code as `totp`,
        with them or with the `challenge` the password alone answered. Answers a short-lived access
        token whose `amr` says how, and whose `roles` count only with "otp"."""
        limit_ip(identity(), "login", client_ip())
        if "challenge" in body:
            token = sessions.login_with_challenge(identity(), body["challenge"], body["totp"])
        else:
            token = sessions.login(identity(), body["email"], body["password"], body.get("totp"))
        return {"access_token": token.access_token, "token_type": "Bearer", "expires_in": token.expires_in}


@blp.route("/current")
class CurrentSession(MethodView):
    @blp.doc(security=BEARER_AUTH)
    @blp.response(204)
    @problems(blp, {401: NO_TOKEN})
    def delete(self):
        """Log out: the access token is revoked here at once, and within seconds in every service
        that checks it (a SessionRevoked event)."""
        sessions.logout(identity(), bearer_token())
