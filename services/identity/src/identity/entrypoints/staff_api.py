"""Identity's HTTP endpoints for staff: the second factor of one's own account, and roles (admins)."""

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from accounts_common.apidocs import NO_TOKEN
from accounts_common.paging import envelope
from accounts_common.roles import Role
from identity.adapters.audit_log import AuditFilter
from identity.entrypoints import audit_schemas, schemas
from identity.entrypoints.http import identity, problems, signed_in, staff_only
from identity.service_layer import accounts, audit_log, staff, totp

blp = Blueprint("staff", __name__, url_prefix="/v1", description="Second factor and staff roles")


@blp.route("/accounts/me/totp")
class TotpEnrolment(MethodView):
    @signed_in(blp)
    @blp.arguments(schemas.PasswordConfirmation)
    @blp.response(201, schemas.TotpEnrolment)
    @problems(
        blp,
        {
            401: NO_TOKEN,
            403: "wrong-password: the password does not confirm it",
            409: "totp-already-enrolled: the account has a confirmed second factor",
            429: "Too many wrong passwords; see Retry-After",
        },
    )
    def post(self, body):
        """Start enrolling an authenticator app, confirmed with the account's password (a token alone,
        of a session left open, must not tie the account to someone else's app): a new secret and its
        otpauth:// URI (for the QR code)."""
        account = accounts.confirm_owner(identity(), g.principal.account, body["password"])
        enrolment = totp.start_enrolment(identity(), account)
        return {"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri}


@blp.route("/accounts/me/totp/verification")
class TotpVerification(MethodView):
    @signed_in(blp)
    @blp.arguments(schemas.TotpCode)
    @blp.response(200, schemas.RecoveryCodes)
    @problems(
        blp,
        {
            401: f"{NO_TOKEN}, or invalid-second-factor: the code is not the app's current one",
            409: "totp-already-enrolled, or totp-not-started (ask for a secret first)",
        },
    )
    def post(self, body):
        """Confirm the enrolment with the app's current code; from now on logins need a code. Answers
        the recovery codes, shown this once."""
        return {"recovery_codes": totp.confirm_enrolment(identity(), g.principal.account, body["code"])}


@blp.route("/staff")
class StaffCollection(MethodView):
    @staff_only(blp, Role.ADMIN)
    @blp.response(200, schemas.StaffList)
    def get(self):
        """Every account holding a role, with whether it has a second factor (admin)."""
        return {"staff": staff.members(identity(), actor=g.principal.account.id)}


@blp.route("/staff/grants")
class RoleGrants(MethodView):
    @staff_only(blp, Role.ADMIN)
    @blp.arguments(schemas.RoleChange)
    @blp.response(200, schemas.RoleChanged)
    @problems(blp, {404: "unknown-account: no verified account has it"})
    def post(self, body):
        """Give a verified account a role (admin). Its sessions end: the role counts from its next
        login with a second factor."""
        changed = staff.grant(identity(), body["email"], Role(body["role"]), actor=g.principal.account.id)
        return {**body, "changed": changed}


@blp.route("/staff/revocations")
class RoleRevocations(MethodView):
    @staff_only(blp, Role.ADMIN)
    @blp.arguments(schemas.RoleChange)
    @blp.response(200, schemas.RoleChanged)
    @problems(
        blp,
        {
            404: "unknown-account: no verified account has it",
            409: "last-admin: the admin role of the only admin (grant it to someone else first)",
        },
    )
    def post(self, body):
        """Take a role from an account (admin); its sessions end at once, here and in every service.
        The only admin keeps the admin role (`identity staff revoke` can still take it)."""
        changed = staff.revoke(identity(), body["email"], Role(body["role"]), actor=g.principal.account.id)
        return {**body, "changed": changed}


@blp.route("/audit")
class AuditTrail(MethodView):
    @staff_only(blp, Role.ADMIN)
    @blp.arguments(audit_schemas.AuditQuery, location="query", unknown=RAISE)
    @blp.response(200, audit_schemas.AuditList)
    def get(self, query):
        """A page of the operator actions of every service, newest first, by person, action and time
        (admin). The trail is a projection of audit.operator-actions.v1: an action shows once
        `identity audit-log` has read it, a moment after it was done."""
        wanted = AuditFilter(
            actor_email=query["actor"],
            action=query["action"],
            since=query["since"],
            until=query["until"],
            as_of=query["as_of"],
        )
        page, per_page = query["page"], query["per_page"]
        actor = g.principal.account.id
        listed, total, as_of = audit_log.entries(identity(), wanted, page, per_page, actor=actor)
        return {**envelope(listed, total, page, per_page), "as_of": as_of}
