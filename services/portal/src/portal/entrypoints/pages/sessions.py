"""Log in and log out."""

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.problems import CREDENTIALS, field_errors
from portal.entrypoints.web import (
    access_token,
    portal,
    remember_return_to,
    return_path,
    see_other,
    sign_in,
    sign_out,
    typed_code,
)

blp = Blueprint("sessions", __name__)


@blp.get("/login")
def login() -> str | Response:
    if "next" in request.args:
        remember_return_to(request.args["next"])
    if access_token() is not None:
        return redirect(return_path())
    return render_template(
        "sessions/login.html", reason=request.args.get("reason"), values={}, errors={}, asks_totp=False
    )


@blp.post("/login")
def submit_login() -> Response | tuple[str, int]:
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    totp = typed_code("totp")
    try:
        token = portal().identity.log_in(email, password, totp)
        me = portal().identity.me(token)
    except ApiError as error:
        # The password is never kept: with a second factor, the person types it again with the code.
        return render_template(
            "sessions/login.html",
            reason=None,
            values={"email": email},
            errors=field_errors(error, CREDENTIALS),
            asks_totp=bool(totp) or error.slug == "mfa-required",
        ), 400
    sign_in(token, me["email"], me.get("locale"), staff=bool(me.get("roles")))
    return redirect(return_path(), code=303)


@blp.post("/logout")
def logout() -> Response:
    token = access_token()
    if token is not None:
        try:
            portal().identity.log_out(token)
        except (ApiError, ServiceUnavailable):
            pass  # the session is forgotten here anyway; the token expires on its own
    sign_out()
    return see_other("videos.index")
