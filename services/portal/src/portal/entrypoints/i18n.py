"""English and French: gettext catalogues (Flask-Babel), chosen by switch, account or Accept-Language."""

from pathlib import Path

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel
from werkzeug.wrappers import Response

from portal.domain.navigation import LANGUAGES, choose_language, safe_return_path

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}

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
