"""RFC 8058 one-click unsubscribe, as an API behind the portal's page.

The link of every newsletter mail is the portal's `/newsletter/unsubscribe?token=…` (its look, the
subscriber's language); the portal asks here whether a link is genuine (GET) and passes the one-click
POST on (body `List-Unsubscribe=One-Click`, what mail clients send). A browser following a link of
a mail sent before the page moved is sent on to the portal's page.
"""

from urllib.parse import urlencode
from uuid import UUID

from flask import redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from accounts_common.problems import Problem, document_problems
from newsletter.domain.issues import UNSUBSCRIBE_PAGE
from newsletter.domain.unsubscribe import account_of_token
from newsletter.entrypoints.http import newsletter
from newsletter.service_layer import subscriptions

blp = Blueprint(
    "unsubscribe", __name__, url_prefix="/v1/unsubscribe", description="One-click unsubscribe (RFC 8058)"
)

MAX_TOKEN_LENGTH = 200
TOKEN_PARAMETER = {
    "name": "token",
    "in": "query",
    "required": True,
    "description": "The signed token of the mail's unsubscribe link",
    "schema": {"type": "string", "maxLength": MAX_TOKEN_LENGTH},
}
STATUS = {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}
INVALID_LINK = "Not a valid unsubscribe link (forged, altered or no longer known)"


def token_account() -> UUID:
    """The account the link's token names; a 400 problem when the link is not genuine."""
    token = request.args.get("token", "")
    account_id = None
    if token and len(token) <= MAX_TOKEN_LENGTH:
        account_id = account_of_token(newsletter().settings.unsubscribe_key, token)
    if account_id is None:
        raise Problem(400, "invalid-unsubscribe-link", "This unsubscribe link is not valid.")
    return account_id


def wants_a_page() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


@blp.route("")
class Unsubscribe(MethodView):
    @blp.doc(
        parameters=[TOKEN_PARAMETER],
        responses={
            "200": {"description": 'The link is genuine: `{"status": "valid"}`', "content": STATUS},
            "303": {"description": "A browser (Accept: text/html) is sent to the portal's page"},
        },
    )
    @document_problems(blp, {400: INVALID_LINK})
    def get(self) -> Response | dict[str, str]:
        """Whether the link is genuine; nothing changes (mail scanners follow links)."""
        if wants_a_page():
            query = urlencode(
                {name: request.args[name] for name in ("token", "lang") if name in request.args}
            )
            return redirect(f"{newsletter().settings.portal_url}{UNSUBSCRIBE_PAGE}?{query}", code=303)
        token_account()
        return {"status": "valid"}

    @blp.doc(
        parameters=[TOKEN_PARAMETER],
        requestBody={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                        "required": ["List-Unsubscribe"],
                    }
                }
            },
        },
        responses={"200": {"description": "Unsubscribed (also when already)", "content": STATUS}},
    )
    @document_problems(blp, {400: INVALID_LINK + ", or no `List-Unsubscribe=One-Click` body"})
    def post(self) -> dict[str, str]:
        """Unsubscribe at once (RFC 8058 One-Click)."""
        account_id = token_account()
        if request.form.get("List-Unsubscribe") != "One-Click":
            raise Problem(400, "one-click-expected", "The body must be List-Unsubscribe=One-Click.")
        subscriptions.unsubscribe(newsletter(), account_id, "one_click")
        return {"status": "unsubscribed"}
