"""Identity's HTTP endpoints for support staff: find a person's account, send a new code, erase it."""

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from accounts_common.problems import Problem
from accounts_common.roles import Role
from identity.entrypoints import schemas
from identity.entrypoints.http import identity, problems, staff_only
from identity.service_layer import support

blp = Blueprint("support", __name__, url_prefix="/v1/support", description="Accounts, for support staff")


@blp.route("/accounts")
class SupportAccounts(MethodView):
    @staff_only(blp, Role.SUPPORT)
    @blp.arguments(schemas.EmailOnly, location="query", unknown=RAISE)
    @blp.response(200, schemas.SupportAccount)
    @problems(blp, {404: "unknown-account"})
    def get(self, query):
        """The account of an email: state, language, roles, second factor (the look-up is audited)."""
        actor = g.principal.account.id
        found = support.look_up(identity(), query["email"], actor)
        if found is None:
            raise Problem(404, "unknown-account", "No account has this email.")
        return found


@blp.route("/accounts/code-resends")
class SupportCodeResends(MethodView):
    @staff_only(blp, Role.SUPPORT)
    @blp.arguments(schemas.EmailOnly)
    @blp.response(202, schemas.CodeResend)
    @problems(blp, {429: "Too many requests for a new code for this email; see Retry-After"})
    def post(self, body):
        """Send a pending account a new code (within the usual cooldown and hourly cap)."""
        actor = g.principal.account.id
        return {"pending": support.resend_code(identity(), body["email"], actor)}


@blp.route("/accounts/erasures")
class SupportErasures(MethodView):
    @staff_only(blp, Role.SUPPORT)
    @blp.arguments(schemas.Erasure)
    @blp.response(204)
    @problems(blp, {404: "unknown-account", 409: "staff-account: it holds roles"})
    def post(self, body):
        """Erase an account and its personal data on the person's request, with the reason (audited)."""
        actor = g.principal.account.id
        support.erase(identity(), body["email"], body["reason"], actor)
