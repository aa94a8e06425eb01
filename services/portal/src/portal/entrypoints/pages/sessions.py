"""Log in and log out."""

from flask import Blueprint, flash, redirect, render_template, request, session
from flask_babel import gettext
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.adapters.identity import token_claims
from portal.entrypoints import sealing
from portal.entrypoints.problems import FORM, field_errors
from portal.entrypoints.web import (
    access_token,
    identity_unavailable,
    portal,
    remember_return_to,
    return_path,
    see_other,
    sign_in,
    sign_out,
    typed_code,
)

blp = Blueprint("sessions", __name__)
# A login's second step: the challenge identity answered the right password with, kept (sealed: the
# session cookie is signed, not encrypted) until the code is sent with it; as long as identity honours it.
CHALLENGE = "login_challenge"
CHALLENGE_PURPOSE = b"portal login challenge"
CHALLENGE_TTL_S = 300
PASSWORD = {"email": "email", "password": "password"}
SECOND_FACTOR = {"totp": "totp"}


@blp.get("/login")
def login() -> str | Response:
    if "next" in request.args:
        remember_return_to(request.args["next"])
    if access_token() is not None:
        return redirect(return_path())
    session.pop(CHALLENGE, None)  # back at the password: a login under way starts again
    return render_template("sessions/login.html", reason=request.args.get("reason"), values={}, errors={})


@blp.post("/login")
def submit_login() -> Response | tuple[str, int]:
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    try:
        token = portal().identity.log_in(email, password)
    except ApiError as error:
        challenge = error.members.get("challenge")
        if error.slug == "mfa-required" and isinstance(challenge, str):
            # The password is never kept: the challenge identity gave for it stands in, sealed.
            session[CHALLENGE] = sealing.seal(challenge, CHALLENGE_PURPOSE)
            return see_other("sessions.code")
        return _login_form(email, field_errors(error, PASSWORD)), 400
    except ServiceUnavailable:
        return _login_form(email, {FORM: identity_unavailable()}), 503
    return _signed_in(token)


def _login_form(email: str, errors: dict[str, list[str]]) -> str:
    """The login form refused, with the email typed (never the password)."""
    return render_template("sessions/login.html", reason=None, values={"email": email}, errors=errors)


@blp.get("/login/code")
def code() -> str | Response:
    if _challenge() is None:
        return _start_again()
    return render_template("sessions/code.html", errors={})


@blp.post("/login/code")
def submit_code() -> Response | tuple[str, int]:
    challenge = _challenge()
    if challenge is None:
        return _start_again()
    try:
        token = portal().identity.log_in_with_challenge(challenge, typed_code("totp"))
    except ApiError as error:
        if error.slug == "challenge-expired":
            return _start_again()
        return render_template("sessions/code.html", errors=field_errors(error, SECOND_FACTOR)), 400
    except ServiceUnavailable:  # the login under way stays: the code is sent again once identity answers
        return render_template("sessions/code.html", errors={FORM: identity_unavailable()}), 503
    return _signed_in(token)


def _challenge() -> str | None:
    """The challenge of the login under way; None when there is none, or it is too old."""
    return sealing.unseal(session.get(CHALLENGE), CHALLENGE_PURPOSE, CHALLENGE_TTL_S)


def _start_again() -> Response:
    """Back to the password, the login under way forgotten (and said to be over, if there was one)."""
    if session.pop(CHALLENGE, None) is not None:
        flash(gettext("It took too long to enter the code. Log in again with your password."))
    return see_other("sessions.login")


def _signed_in(token: str) -> Response:
    """Keep the session of the token. Who it is comes from identity; if identity stops answering right
    after the login, from the token itself: the code that earned it is spent, so the login must hold."""
    try:
        me = portal().identity.me(token)
    except ServiceUnavailable:
        me = token_claims(token)
    sign_in(token, me["email"], me.get("locale"), staff=bool(me.get("roles")))
    return redirect(return_path(), code=303)


@blp.post("/logout")
def logout() -> Response:
    _end_session()
    return see_other("videos.index")


@blp.post("/login/again")
def log_in_again() -> Response:
    """A signed-in page's "Log in again", as its session ends or once it has: identity lengthens no
    token, so this session is ended and a new one started, back at the page (its form's `next`).
    Unlike "Log out", the page keeps the browser's drafts, which come back once logged in."""
    back_to = request.form.get("next")
    _end_session()
    remember_return_to(back_to)
    return see_other("sessions.login")


def _end_session() -> None:
    token = access_token()
    if token is not None:
        try:
            portal().identity.log_out(token)
        except (ApiError, ServiceUnavailable):
            pass  # the session is forgotten here anyway; the token expires on its own
    sign_out()
