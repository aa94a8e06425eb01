"""Create an account → check your inbox and enter the code (or send a new one) → account created."""

import time
from typing import Any

from flask import Blueprint, render_template, request, session
from flask_babel import get_locale
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.pages.account import newsletter_status
from portal.entrypoints.problems import CODE, CREDENTIALS, FORM, field_errors
from portal.entrypoints.web import (
    access_token,
    finish_flow,
    identity_unavailable,
    in_flow,
    portal,
    render_code_page,
    resend_code,
    return_path,
    see_other,
    sign_in,
    typed_code,
)

blp = Blueprint("signup", __name__)


# The registration waiting for its code, session["signup"]: email (as identity wrote it), registration_id
# (never in a URL), when the code was sent, the account's language.
in_signup = in_flow("signup", "signup.signup", done="signup.created")


@blp.get("/signup")
def signup() -> str:
    return render_template("signup/signup.html", values={}, errors={})


@blp.post("/signup")
def submit_signup() -> str | Response | tuple[str, int]:
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    try:
        locale = str(get_locale())
        accepted = portal().identity.register(email, password, locale)
    except ApiError as error:
        return render_template(
            "signup/signup.html", values={"email": email}, errors=field_errors(error, CREDENTIALS)
        ), 400
    except ServiceUnavailable:
        errors = {FORM: identity_unavailable()}
        return render_template("signup/signup.html", values={"email": email}, errors=errors), 503
    session["signup"] = {
        "email": accepted.get("email", email),
        "registration_id": accepted["registration_id"],
        "sent_at": time.time(),
        "locale": locale,
    }
    return see_other("signup.verify")


@blp.get("/signup/verify")
@in_signup
def verify(registration: dict[str, Any]) -> str | Response:
    return render_code_page("signup", registration, {})


@blp.post("/signup/verify")
@in_signup
def submit_code(registration: dict[str, Any]) -> str | Response | tuple[str, int]:
    email, registration_id = str(registration["email"]), str(registration["registration_id"])
    try:
        token = portal().identity.verify(email, typed_code(), registration_id)
    except ApiError as error:
        return render_code_page("signup", registration, field_errors(error, CODE)), 400
    except ServiceUnavailable:
        return render_code_page("signup", registration, {FORM: identity_unavailable()}), 503
    # Signed in with what identity answered the registration: the code is spent, and asking identity
    # again could fail and leave the new account's visitor on a code that no longer works.
    sign_in(token, email, registration.get("locale"))
    finish_flow("signup")
    return see_other("signup.created")


@blp.post("/signup/resend")
@in_signup
def resend(registration: dict[str, Any]) -> Response | tuple[str, int]:
    def send() -> None:
        portal().identity.resend_code(str(registration["email"]), str(registration["registration_id"]))
        session["signup"] = {**registration, "sent_at": time.time()}

    return resend_code("signup", registration, send)


@blp.get("/signup/done")
def created() -> str | Response:
    if access_token() is None:
        return see_other("signup.signup")
    subscribed = newsletter_status(str(access_token()))
    return render_template("signup/created.html", return_to=return_path(""), subscribed=subscribed)
