"""Reset password → code → create a new password → updated, with the way back to the page the user was on."""

import time
from typing import Any

from flask import Blueprint, render_template, request, session
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.problems import CODE, EMAIL, FORM, field_errors
from portal.entrypoints.web import (
    finish_flow,
    identity_unavailable,
    in_flow,
    portal,
    render_code_page,
    resend_code,
    return_path,
    see_other,
    sign_out,
    typed_code,
)

blp = Blueprint("resets", __name__, url_prefix="/password-reset")


# The reset under way, session["reset"]: the email, when its code was sent, then the reset token
# (never in a URL).
in_reset = in_flow("reset", "resets.start", done="resets.done")


def request_code(email: str) -> None:
    portal().identity.request_password_reset(email, return_path())
    session["reset"] = {"email": email, "sent_at": time.time()}


@blp.get("")
def start() -> str:
    return render_template("resets/start.html", values={}, errors={})


@blp.post("")
def submit_email() -> Response | tuple[str, int]:
    email = request.form.get("email", "").strip()
    try:
        request_code(email)
    except ApiError as error:
        return render_template(
            "resets/start.html", values={"email": email}, errors=field_errors(error, EMAIL)
        ), 400
    except ServiceUnavailable:
        errors = {FORM: identity_unavailable()}
        return render_template("resets/start.html", values={"email": email}, errors=errors), 503
    return see_other("resets.verify")


@blp.get("/code")
@in_reset
def verify(reset: dict[str, Any]) -> str | Response:
    if "reset_token" in reset:  # the code was accepted: identity would now call it wrong
        return see_other("resets.new_password")
    return render_code_page("resets", reset, {})


@blp.post("/code")
@in_reset
def submit_code(reset: dict[str, Any]) -> Response | str | tuple[str, int]:
    if "reset_token" in reset:
        return see_other("resets.new_password")
    try:
        token = portal().identity.verify_password_reset(str(reset["email"]), typed_code())
    except ApiError as error:
        return render_code_page("resets", reset, field_errors(error, CODE)), 400
    except ServiceUnavailable:
        return render_code_page("resets", reset, {FORM: identity_unavailable()}), 503
    session["reset"] = {**reset, "reset_token": token}
    return see_other("resets.new_password")


@blp.post("/code/resend")
@in_reset
def resend(reset: dict[str, Any]) -> Response | tuple[str, int]:
    return resend_code("resets", reset, lambda: request_code(str(reset["email"])))


@blp.get("/new")
@in_reset
def new_password(reset: dict[str, Any]) -> str | Response:
    if "reset_token" not in reset:
        return see_other("resets.start")
    return render_template("resets/new_password.html", errors={})


@blp.post("/new")
@in_reset
def submit_new_password(reset: dict[str, Any]) -> Response | tuple[str, int]:
    if "reset_token" not in reset:
        return see_other("resets.start")
    try:
        portal().identity.complete_password_reset(str(reset["reset_token"]), request.form.get("password", ""))
    except ApiError as error:
        errors = field_errors(error, {"new_password": "password"})
        if error.slug == "invalid-reset-token":
            session.pop("reset", None)
        return render_template("resets/new_password.html", errors=errors), 400
    except ServiceUnavailable:  # the reset stays under way: the new password is sent again later
        return render_template("resets/new_password.html", errors={FORM: identity_unavailable()}), 503
    return_to = return_path()
    sign_out()  # every session of the account was revoked
    session["return_to"] = return_to
    finish_flow("reset")
    return see_other("resets.done")


@blp.get("/done")
def done() -> str:
    return render_template("resets/done.html", return_to=return_path())
