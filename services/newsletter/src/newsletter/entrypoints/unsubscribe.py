"""RFC 8058 one-click unsubscribe: the link of every newsletter mail.

GET shows a page with a button and changes nothing (mail scanners follow links); POST with the
body `List-Unsubscribe=One-Click` (what mail clients send, and what the button sends) unsubscribes.
The page is in English or French: the `lang` its switch sets, else the browser's preference.
"""

from uuid import UUID

from flask import Response, render_template, request
from flask.views import MethodView
from flask_smorest import Blueprint

from newsletter.domain.unsubscribe import account_of_token
from newsletter.entrypoints.http import newsletter
from newsletter.service_layer import subscriptions

blp = Blueprint(
    "unsubscribe",
    __name__,
    url_prefix="/v1/unsubscribe",
    description="One-click unsubscribe (RFC 8058): HTML pages",
    template_folder="templates",
)

MAX_TOKEN_LENGTH = 200
TOKEN_PARAMETER = {
    "name": "token",
    "in": "query",
    "required": True,
    "description": "The signed token of the mail's unsubscribe link",
    "schema": {"type": "string", "maxLength": MAX_TOKEN_LENGTH},
}
LANG_PARAMETER = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "The page's language, `en` or `fr` (else the browser's preference, else English)",
    "schema": {"type": "string"},
}
HTML = {"text/html": {"schema": {"type": "string"}}}
INVALID_LINK = {"description": "Not a valid unsubscribe link: a page saying so", "content": HTML}
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
# The portal's wording (its French catalogue) for the same things.
TEXTS = {
    "en": {
        "product": "NATO Multimedia Account",
        "newsletter": "Newsletter",
        "confirm": "Unsubscribe from our newsletter",
        "confirm_text": "You will no longer receive our latest updates by email.",
        "button": "Unsubscribe",
        "done": "You have been unsubscribed",
        "done_text": "You will no longer receive our newsletter. "
        "You can subscribe again from your account at any time.",
        "invalid": "This unsubscribe link is not valid",
        "invalid_text": "Use the link at the bottom of one of our newsletter emails, exactly as it is.",
    },
    "fr": {
        "product": "Compte multimédia OTAN",
        "newsletter": "Lettre d’information",
        "confirm": "Se désabonner de notre lettre d’information",
        "confirm_text": "Vous ne recevrez plus nos dernières actualités par e-mail.",
        "button": "Se désabonner",
        "done": "Vous êtes désabonné",
        "done_text": "Vous ne recevrez plus notre lettre d’information. "
        "Vous pouvez vous réabonner à tout moment depuis votre compte.",
        "invalid": "Ce lien de désabonnement n’est pas valide",
        "invalid_text": "Utilisez le lien en bas de l’un de nos e-mails d’information, tel quel.",
    },
}


def page_language() -> str:
    """The language the page's switch chose, else the browser's first supported one, else English."""
    chosen = request.args.get("lang", "")
    if chosen in TEXTS:
        return chosen
    return request.accept_languages.best_match(list(TEXTS), default="en") or "en"


def page(state: str, status: int = 200) -> Response:
    language = page_language()
    html = render_template(
        "unsubscribe.html",
        state=state,
        token=request.args.get("token"),
        lang=language,
        text=TEXTS[language],
        languages=LANGUAGE_NAMES,
    )
    response = Response(html, status=status)
    response.vary.add("Accept-Language")
    return response


def token_account() -> UUID | None:
    """The account the link's token names, or None when the link is not genuine."""
    token = request.args.get("token", "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return account_of_token(newsletter().settings.unsubscribe_key, token)


@blp.route("")
class Unsubscribe(MethodView):
    @blp.doc(
        parameters=[TOKEN_PARAMETER, LANG_PARAMETER],
        responses={
            "200": {"description": "A page with the unsubscribe button", "content": HTML},
            "400": INVALID_LINK,
        },
    )
    def get(self) -> Response:
        """The confirmation page: nothing changes until its button is pressed."""
        if token_account() is None:
            return page("invalid", 400)
        return page("confirm")

    @blp.doc(
        parameters=[TOKEN_PARAMETER, LANG_PARAMETER],
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
        responses={
            "200": {"description": "Unsubscribed (also when already)", "content": HTML},
            "400": INVALID_LINK,
        },
    )
    def post(self) -> Response:
        """Unsubscribe at once (RFC 8058 One-Click)."""
        account_id = token_account()
        if account_id is None or request.form.get("List-Unsubscribe") != "One-Click":
            return page("invalid", 400)
        subscriptions.unsubscribe(newsletter(), account_id, "one_click")
        return page("done")
