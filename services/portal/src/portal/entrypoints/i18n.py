"""English and French: gettext catalogues (Flask-Babel), chosen by switch, account or Accept-Language."""

from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel, refresh
from werkzeug.wrappers import Response

from portal.domain.navigation import LANGUAGES, choose_language, safe_return_path

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
# Pages that keep their link's `lang` in their address: mail clients POST the unsubscribe link back
# as it is (RFC 8058), and its page speaks the link's language then too.
KEEP_THEIR_LANG = {"newsletter_link.confirm", "newsletter_link.one_click"}

blp = Blueprint("language", __name__)


def page_language() -> str:
    """The switch's (or the account's) choice kept in the session, else the browser's preference."""
    return choose_language(session.get("locale"), request.accept_languages.values())


def install_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=page_language)
    app.register_blueprint(blp)

    @app.context_processor
    def languages() -> dict[str, object]:
        return {"languages": LANGUAGE_NAMES, "page_language": page_language()}

    @app.after_request
    def vary(response: Response) -> Response:
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        return response


@blp.post("/language")
def switch() -> Response:
    """The visible switch: remember the language for this browser's session, stay on the page."""
    language = request.form.get("language", "")
    if language in LANGUAGES:
        session["locale"] = language
    return redirect(safe_return_path(request.form.get("next")), code=303)


def take_language(language: str) -> None:
    """A link's language (`lang`) becomes the page's, for this browser's session, when it is one of ours."""
    if language in LANGUAGES and session.get("locale") != language:
        session["locale"] = language
        refresh()


@blp.before_app_request
def open_a_link_in_its_language() -> Response | None:
    """A mail's link (`?lang=fr`) opens the portal in the mail's language, then the address without it:
    the page's switch, a bookmark or a shared address then speak the language chosen since."""
    if (
        "lang" not in request.args
        or request.method not in ("GET", "HEAD")
        or request.endpoint in KEEP_THEIR_LANG
    ):
        return None
    take_language(request.args["lang"])
    rest = urlencode([(name, value) for name, value in request.args.items(multi=True) if name != "lang"])
    return redirect(safe_return_path(request.path + (f"?{rest}" if rest else "")), code=303)
