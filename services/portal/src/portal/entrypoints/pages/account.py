"""My account: email, the language of its mails, newsletter on/off, deleting the account; and the
newsletter's own page."""

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, flash, render_template, request, session
from flask_babel import gettext
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.domain.navigation import LANGUAGES
from portal.entrypoints.problems import field_errors
from portal.entrypoints.web import access_token, login_required, portal, see_other, sign_out

blp = Blueprint("account", __name__)
# The pages with a subscription button, where the form's `from` returns to.
RETURN_PAGES = {"newsletter": "account.newsletter", "created": "signup.created"}
# The flashed message of a deletion that went through: its page forgets the browser's drafts.
ACCOUNT_DELETED = "account-deleted"
T = TypeVar("T")


def unless_unavailable(ask: Callable[[], T], unavailable: T) -> T:
    """The service's answer; `unavailable` when it does not answer (an ended session still ends)."""
    try:
        return ask()
    except (ServiceUnavailable, ApiError) as error:
        if isinstance(error, ApiError) and error.session_ended:
            raise
        return unavailable


def newsletter_status(token: str) -> bool | None:
    """Subscribed or not; None when the newsletter service does not answer."""
    return newsletter_subscription(token)[0]


def newsletter_subscription(token: str) -> tuple[bool | None, str | None]:
    """Subscribed or not (None when the newsletter service does not answer), and why the last
    subscription ended when it did (`bounce`)."""
    unanswered: tuple[bool | None, str | None] = (None, None)
    return unless_unavailable(lambda: portal().newsletter.subscription(token), unanswered)


def mail_language(token: str) -> str | None:
    """The language identity writes the account's mails in; None when identity does not answer."""
    return unless_unavailable(lambda: str(portal().identity.me(token).get("locale") or "en"), None)


def render_account(errors: dict[str, list[str]], status: int = 200) -> tuple[str, int]:
    token = str(access_token())
    subscribed, ended_because = newsletter_subscription(token)
    return render_template(
        "account/account.html",
        email=session.get("email"),
        mail_language=mail_language(token),
        subscribed=subscribed,
        ended_because=ended_because,
        errors=errors,
    ), status


@blp.get("/account")
@login_required
def account() -> tuple[str, int]:
    return render_account({})


@blp.get("/newsletter")
@login_required
def newsletter() -> str:
    subscribed, ended_because = newsletter_subscription(str(access_token()))
    return render_template(
        "account/newsletter.html",
        subscribed=subscribed,
        ended_because=ended_because,
        email=session.get("email"),
    )


@blp.post("/newsletter")
@login_required
def change_subscription() -> Response | tuple[str, int]:
    """Subscribe (subscribe=yes) or unsubscribe (subscribe=no); back to the page the form was on."""
    token, subscribe = str(access_token()), request.form.get("subscribe") == "yes"
    try:
        if subscribe:
            portal().newsletter.subscribe(token)
        else:
            portal().newsletter.unsubscribe(token)
    except ServiceUnavailable:
        return render_account(
            {"newsletter": [gettext("The newsletter is unavailable. Please try again in a few minutes.")]},
            503,
        )
    if subscribe:
        flash(gettext("You are subscribed to our newsletter."))
    else:
        flash(gettext("You are no longer subscribed to our newsletter."))
    return see_other(RETURN_PAGES.get(request.form.get("from", ""), "account.account"))


@blp.post("/account/language")
@login_required
def change_mail_language() -> Response | tuple[str, int]:
    """Choose the language identity writes the account's mails in (the page keeps its own)."""
    language = request.form.get("mail_language", "")
    if language not in LANGUAGES:
        return render_account({"mail_language": [gettext("Choose English or French.")]}, 400)
    try:
        portal().identity.change_locale(str(access_token()), language)
    except ServiceUnavailable:
        unavailable = gettext("The account service is unavailable. Please try again in a few minutes.")
        return render_account({"mail_language": [unavailable]}, 503)
    except ApiError as error:
        if error.session_ended:
            raise
        said = field_errors(error, {"locale": "mail_language"}).values()  # by the choice, whichever field
        return render_account({"mail_language": [message for messages in said for message in messages]}, 400)
    if language == "fr":
        flash(gettext("We will write to you in French from now on."))
    else:
        flash(gettext("We will write to you in English from now on."))
    return see_other("account.account")


@blp.post("/account/delete")
@login_required
def delete() -> Response | tuple[str, int]:
    try:
        portal().identity.delete_account(str(access_token()), request.form.get("delete_password", ""))
    except ApiError as error:
        if error.session_ended:
            raise
        return render_account(field_errors(error, {"password": "delete_password"}), 400)
    sign_out()
    flash(gettext("Your account has been deleted."), ACCOUNT_DELETED)
    return see_other("videos.index")
