"""Identity's HTTP endpoints for accounts: sign-up, verification, the caller's account."""

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from accounts_common.apidocs import BEARER_AUTH, NO_TOKEN
from accounts_common.problems import Problem
from identity.adapters.account_store import Account
from identity.entrypoints import schemas
from identity.entrypoints.http import (
    bearer_token,
    caller,
    client_ip,
    identity,
    problems,
    uniform_duration,
)
from identity.service_layer import accounts, sessions, staff
from identity.service_layer.errors import WeakPassword
from identity.service_layer.limits import limit_ip

blp = Blueprint("accounts", __name__, url_prefix="/v1/accounts", description="Sign-up, verification, account")

TOO_MANY = "Too many requests from this address or for this email; see Retry-After"
CODE_REFUSED = (
    "invalid-code, code-expired or code-locked; while the email's code entry is locked (ten wrong codes "
    "in a day) code-locked has Retry-After and `retry_after`, the seconds until it opens again"
)


def weak_password(field: str, weak: WeakPassword) -> Problem:
    """The 422 listing every rule the password breaks."""
    return Problem(
        422,
        "validation-error",
        "The password does not meet the policy; see errors.",
        errors={field: weak.violations},
    )


def me(principal: sessions.Principal, account: Account) -> dict[str, Any]:
    """The account as its owner sees it."""
    return {
        "id": account.id,
        "email": account.email,
        "verified": account.verified,
        "created_at": account.created_at,
        "locale": account.locale or "en",
        "roles": staff.roles_of_account(identity(), account.id),
        "second_factor": principal.passed_second_factor,
    }


@blp.route("")
class AccountsCollection(MethodView):
    @blp.arguments(schemas.Registration)
    @blp.response(202, schemas.RegistrationAccepted)
    @problems(blp, {422: "Invalid email or weak password", 429: TOO_MANY})
    def post(self, body):
        """Register: a pending credential whose code is emailed (the same answer for any email).

        Keep `registration_id`: the code activates this registration's password only with it. An
        email that already has an account gets the same answer; its owner is mailed a notice
        ("you already have an account", with log-in and reset links) instead of a code.
        """
        limit_ip(identity(), "register", client_ip())
        with uniform_duration():
            try:
                registration_id = accounts.register(
                    identity(), body["email"], body["password"], body.get("locale"), requester=client_ip()
                )
            except WeakPassword as weak:
                raise weak_password("password", weak) from None
        return {
            "status": "verification_pending",
            "email": body["email"],
            "code_expires_in": identity().settings.code_lifetime_s,
            "registration_id": registration_id,
        }


@blp.route("/verification")
class Verification(MethodView):
    @blp.arguments(schemas.VerificationSubmission)
    @blp.response(200, schemas.AccessToken)
    @problems(blp, {400: CODE_REFUSED, 429: TOO_MANY})
    def post(self, body):
        """Enter the code mailed for a registration: its password becomes the account's, and the user
        is logged in. A code never activates another registration."""
        limit_ip(identity(), "code", client_ip())
        token = accounts.verify_account(identity(), body["email"], body["registration_id"], body["code"])
        return {
            "status": "verified",
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
        }


@blp.route("/verification/resend")
class VerificationResend(MethodView):
    @blp.arguments(schemas.RegistrationRef)
    @blp.response(202, schemas.Accepted)
    @problems(blp, {429: TOO_MANY})
    def post(self, body):
        """Send a new code for the registration, voiding its old one (always 202: it tells nothing)."""
        limit_ip(identity(), "resend", client_ip())
        with uniform_duration():
            accounts.resend_verification(
                identity(), body["email"], body["registration_id"], requester=client_ip()
            )
        return {"status": "accepted"}


@blp.route("/me")
class CurrentAccount(MethodView):
    @blp.doc(security=BEARER_AUTH)
    @blp.response(200, schemas.Me)
    @problems(blp, {401: NO_TOKEN})
    def get(self):
        """The account of the access token."""
        principal = caller()
        return me(principal, principal.account)

    @blp.doc(security=BEARER_AUTH)
    @blp.arguments(schemas.LocaleChoice)
    @blp.response(200, schemas.Me)
    @problems(blp, {401: NO_TOKEN, 422: "A language other than en or fr"})
    def patch(self, body):
        """Choose the language of the mails written to the account (codes, password notices, the
        newsletter); every service that writes to it learns it through AccountLocaleChanged."""
        principal = caller()
        return me(principal, accounts.change_locale(identity(), principal, body["locale"]))

    @blp.doc(security=BEARER_AUTH)
    @blp.arguments(schemas.PasswordConfirmation)
    @blp.response(204)
    @problems(
        blp,
        {
            401: NO_TOKEN,
            403: "wrong-password: the password does not confirm the deletion",
            409: "last-admin: the only admin's account (grant the admin role to someone else first)",
            429: "Too many wrong passwords; see Retry-After",
        },
    )
    def delete(self, body):
        """Delete the account and erase its personal data (confirmed with the password); its tokens die."""
        accounts.delete_account(identity(), bearer_token(), body["password"])
