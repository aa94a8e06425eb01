"""Two-step verification of one's own account: an authenticator app (TOTP), enrolled from a QR code,
and the recovery codes shown once. Staff need it for their roles to count."""

import qrcode
import qrcode.image.svg
from flask import Blueprint, render_template, request, session
from flask_babel import gettext
from markupsafe import Markup
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError
from portal.entrypoints import sealing
from portal.entrypoints.problems import FORM, field_errors
from portal.entrypoints.web import access_token, login_required, portal, typed_code

blp = Blueprint("security", __name__)
# The enrolment under way: identity's otpauth URI, kept in the session rather than in the form, so
# the QR code is only ever drawn from what identity answered. Sealed: the session cookie is signed,
# not encrypted, and would show the authenticator's secret to anyone holding it (until logout, for a
# set-up left unconfirmed).
ENROLMENT = "totp_enrolment"
ENROLMENT_TTL_S = 3600  # an older one asks to start again
ENROLMENT_PURPOSE = b"portal two-step enrolment"


def seal(uri: str) -> str:
    return sealing.seal(uri, ENROLMENT_PURPOSE)


def unseal(sealed: object) -> str | None:
    """The URI sealed by `seal`; None for a value it did not make, or one older than the TTL."""
    return sealing.unseal(sealed, ENROLMENT_PURPOSE, ENROLMENT_TTL_S)


def qr_code(uri: str) -> Markup:
    """The URI as an inline SVG QR code, drawn server-side (no script, no image request)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    return Markup(image.to_string(encoding="unicode"))  # the library's own SVG, no input of ours unescaped


def render_enrolment(uri: str, errors: dict[str, list[str]], status: int = 200) -> tuple[str, int]:
    secret = uri.split("secret=", 1)[1].split("&", 1)[0] if "secret=" in uri else ""
    return render_template("security/enrol.html", qr=qr_code(uri), secret=secret, errors=errors), status


def code_errors(error: ApiError) -> dict[str, list[str]]:
    """Identity's refusal of the app's code; one that is not six digits is said so, not in the words
    for the emailed codes of the other forms."""
    if error.status == 422 and "code" in error.errors:
        return {"code": [gettext("Enter the six digits your authenticator app shows.")]}
    return field_errors(error, {"totp": "code", "code": "code"})


@blp.get("/account/two-step")
@login_required
def two_step() -> str:
    return render_template("security/two_step.html", errors={})


@blp.post("/account/two-step")
@login_required
def start() -> tuple[str, int]:
    try:
        enrolment = portal().identity.start_totp(str(access_token()), request.form.get("password", ""))
    except ApiError as error:
        if error.status == 401:
            raise
        errors = field_errors(error, {"password": "password"})  # a wrong password, or one already set up
        return render_template("security/two_step.html", errors=errors), 409 if error.status == 409 else 400
    session[ENROLMENT] = seal(enrolment["otpauth_uri"])
    return render_enrolment(enrolment["otpauth_uri"], {})


@blp.post("/account/two-step/confirmation")
@login_required
def confirm() -> Response | tuple[str, int]:
    uri = unseal(session.get(ENROLMENT, ""))
    if uri is None:
        session.pop(ENROLMENT, None)  # a stale one, or one stored unsealed before it was sealed
        errors = {FORM: [gettext("Start setting up two-step verification again.")]}
        return render_template("security/two_step.html", errors=errors), 400
    try:
        recovery_codes = portal().identity.confirm_totp(str(access_token()), typed_code())
    except ApiError as error:
        if error.status == 401 and error.slug != "invalid-second-factor":
            raise
        return render_enrolment(uri, code_errors(error), 400)
    session.pop(ENROLMENT)
    return render_template("security/recovery_codes.html", recovery_codes=recovery_codes), 200
