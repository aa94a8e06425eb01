"""The portal's Flask application factory: gunicorn runs `portal.entrypoints.app:create_app()`."""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel.units import format_unit
from flask import Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_datetime, get_locale, gettext
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from accounts_common.process import configure_logging
from accounts_common.proxies import trust_proxy_hops
from accounts_common.web import create_api_app
from portal.adapters.http import ApiError, ServiceUnavailable
from portal.bootstrap import Portal, bootstrap
from portal.domain.mail_preview import headings_under
from portal.domain.navigation import clock_duration
from portal.entrypoints import i18n
from portal.entrypoints.names import install_names
from portal.entrypoints.pages import (
    account,
    console,
    console_admin,
    console_newsletter,
    console_videos,
    resets,
    security,
    sessions,
    signup,
    unsubscribe,
    videos,
)
from portal.entrypoints.web import (
    CSRF_FIELD,
    access_token,
    asked_by_a_script,
    drafts_owner,
    install_long_forms,
    page_address,
    remember_return_to,
    seconds_the_session_has,
    session_ended_for_a_script,
    sign_out,
)
from portal.settings import Settings

log = logging.getLogger(__name__)

PAGES = (
    videos.blp,
    sessions.blp,
    signup.blp,
    resets.blp,
    account.blp,
    security.blp,
    unsubscribe.blp,
    console.blp,
    console_admin.blp,
    console_newsletter.blp,
    console_videos.blp,
)
# What the session keeps of a visitor not signed in yet: the sign-up or reset under way, whose pages
# show their email, and a login's second step. Their pages, as a signed-in visitor's and a form's
# answer (the email typed), are kept by no cache: not by the browser for the back button either.
FLOWS_UNDER_WAY = {"signup", "reset", sessions.CHALLENGE}
# The editors' forms, with the page answering one too long even for them.
LONG_FORMS: dict[str, Callable[..., ResponseReturnValue]] = {
    "console_newsletter.save_issue": console_newsletter.too_long_issue,
    "console_newsletter.live_preview": console_newsletter.too_long_preview,
    "console_videos.create": console_videos.too_long_new_video,
    "console_videos.edit": console_videos.too_long_video_texts,
}


def create_app(
    settings: Settings | None = None, portal: Portal | None = None, config: dict[str, Any] | None = None
) -> Flask:
    """Build the app; tests may pass their own settings or a wired portal."""
    configure_logging()
    settings = settings or Settings.load()
    portal = portal or bootstrap(
        settings, forwarded_for=lambda: {"X-Forwarded-For": request.remote_addr or ""}
    )
    app = create_api_app(
        "portal",
        blueprints=[],
        # None: its pages answer with any service behind it down, saying which is unavailable. Tied to
        # identity, an outage of it took every portal pod out of its Service at once, the video list too.
        readiness_checks={},
        config={
            "SECRET_KEY": settings.secret_key,
            "SESSION_COOKIE_NAME": "portal_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": settings.secure_cookies,
            "MAX_CONTENT_LENGTH": 64 * 1024,
            # A form's token is good for the whole session (a new session, a new token), as before.
            "WTF_CSRF_TIME_LIMIT": None,
            **(config or {}),
        },
    )
    app.extensions["portal"] = portal
    trust_proxy_hops(app, settings.trusted_proxy_hops)
    i18n.install_i18n(app)
    for blueprint in PAGES:
        app.register_blueprint(blueprint)
    install_long_forms(app, LONG_FORMS)
    csrf = CSRFProtect(app)
    csrf.exempt(unsubscribe.one_click)  # RFC 8058 one-click: mail clients POST without a session
    # tus requests carry the token in X-CSRFToken, checked by the views once a chunk's size is allowed.
    csrf.exempt(console_videos.new_upload)
    csrf.exempt(console_videos.upload)
    install_page_errors(app)
    install_page_context(app)
    install_security_headers(app, settings.catalogue_origin)
    return app


def long_date(value: str | None) -> str:
    """An ISO 8601 timestamp as a date in the page's language ("11 February 2021", "11 février 2021")."""
    try:
        return format_date(datetime.fromisoformat(value or ""), "long")
    except ValueError:
        return ""


def date_time(value: str | None) -> str:
    """An ISO 8601 timestamp as date and time in the page's language and the UTC zone, which it names
    ("UTC", "TU"): the console's staff are in many zones (the console)."""
    try:
        return format_datetime(datetime.fromisoformat(value or ""), "long")
    except ValueError:
        return ""


SIZE_UNITS = ("digital-byte", "digital-kilobyte", "digital-megabyte", "digital-gigabyte", "digital-terabyte")


def file_size(size_bytes: float | None) -> str:
    """A file's size in decimal units, written in the page's language ("4.4 MB", "4,4 Mo")."""
    value, unit = float(size_bytes or 0), 0
    while value >= 1000 and unit < len(SIZE_UNITS) - 1:
        value, unit = value / 1000, unit + 1
    return format_unit(value, SIZE_UNITS[unit], length="short", format="#,##0.#", locale=get_locale())


def install_page_context(app: Flask) -> None:
    app.add_template_filter(clock_duration, "duration")
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(date_time, "date_time")
    app.add_template_filter(file_size, "file_size")
    app.add_template_filter(headings_under, "headings_under")
    install_names(app)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        return {
            "csrf_field": CSRF_FIELD,
            "csrf_token": generate_csrf,
            "signed_in": access_token() is not None,
            "is_staff": access_token() is not None and session.get("staff", False),
            "page_address": page_address(),
            "seconds_the_session_has": seconds_the_session_has,
            "drafts_owner": drafts_owner,
        }


# The pages that preview a newsletter issue as it will be mailed: its images may be anywhere on the web.
# An action's page (confirming a sending, a refused one) shows the editor with its preview too.
MAIL_PREVIEWS = {
    "console_newsletter.new_issue",
    "console_newsletter.issue",
    "console_newsletter.save_issue",
    "console_newsletter.issue_action",
}


def content_security_policy(catalogue_origin: str, images: str = "") -> str:
    """Scripts, styles and requests from the portal alone; posters and previews from the catalogue's
    public address too (and `images`), and forms may end there (Download redirects to the file)."""
    return (
        f"default-src 'self'; img-src 'self' {catalogue_origin}{images}; "
        f"media-src 'self' {catalogue_origin}; form-action 'self' {catalogue_origin}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def install_security_headers(app: Flask, catalogue_origin: str) -> None:
    policy = content_security_policy(catalogue_origin)
    mail_preview_policy = content_security_policy(catalogue_origin, " http: https:")

    @app.after_request
    def security_headers(response: Response) -> Response:
        previews_mail = request.endpoint in MAIL_PREVIEWS
        response.headers.setdefault(
            "Content-Security-Policy", mail_preview_policy if previews_mail else policy
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # A page of another site that opened this one keeps no handle on it (nor this one on it).
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if access_token() is not None or request.method == "POST" or FLOWS_UNDER_WAY & session.keys():
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def install_page_errors(app: Flask) -> None:
    """Errors as pages in the visitor's language (the operations endpoints keep problem+json)."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        if request.path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            return app.extensions["problem_api"].handle_http_exception(error)
        status = error.code or 500
        if isinstance(error, CSRFError):
            message = gettext("This form has expired. Go back, reload the page and try again.")
        elif status == 404:
            message = gettext("This page does not exist.")
        elif status == 403:
            message = gettext("You are not allowed to do this.")
        else:
            message = gettext("The request could not be completed.")
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(ServiceUnavailable)
    def unavailable(error: ServiceUnavailable) -> tuple[str, int]:
        log.warning("%s", error)
        messages = {
            "identity": gettext("The account service is unavailable. Please try again in a few minutes."),
            "catalogue": gettext("The video catalogue is unavailable. Please try again in a few minutes."),
            "newsletter": gettext("The newsletter is unavailable. Please try again in a few minutes."),
            "mailer": gettext("The mail service is unavailable. Please try again in a few minutes."),
        }
        return render_template("error.html", status=503, message=messages[error.service]), 503

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response | tuple[str, int]:
        if error.session_ended and asked_by_a_script():  # the live preview, a page following its work
            return session_ended_for_a_script()
        if error.session_ended:
            back_to = page_address()  # for a form, the page it was on: back there after logging in
            sign_out()
            remember_return_to(back_to)
            return redirect(url_for("sessions.login", reason="expired"), code=303)
        if error.status == 403:  # a staff page whose role the service refuses (revoked meanwhile)
            return render_template(
                "error.html", status=403, message=gettext("You are not allowed to do this.")
            ), 403
        log.warning("unexpected answer from a service: %s", error)
        message = gettext("The request could not be completed.")
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_template(
            "error.html", status=500, message=gettext("Something went wrong on our side.")
        ), 500
