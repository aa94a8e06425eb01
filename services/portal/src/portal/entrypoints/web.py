"""What every page shares: the wired portal, the signed session, login and return paths."""

import functools
import hmac
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import jwt
from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from werkzeug.wrappers import Response

from accounts_common.problems import problem_response
from portal.adapters.http import ApiError, ServiceUnavailable
from portal.adapters.identity import token_claims
from portal.bootstrap import Portal
from portal.domain.codes import CodeRequest
from portal.domain.navigation import page_to_return_to
from portal.entrypoints.problems import FORM, field_errors

CSRF_FIELD = "csrf_token"  # Flask-WTF's form field (CSRFProtect, installed by the app factory)
# The editors' forms carry long texts, where the portal's other forms keep to 64 KiB: an issue's
# (200,000 characters a language) or a video's descriptions (20,000). Percent-encoded, French text
# takes 1.5 to 2.5 bytes a character: an issue's longest texts in both languages fit with room.
LONG_FORM_BYTES = 2 * 1024 * 1024
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


def portal() -> Portal:
    return current_app.extensions["portal"]  # type: ignore[no-any-return]


def access_token() -> str | None:
    """The signed-in account's access token, if any."""
    return session.get("token")


def seconds_the_session_has() -> int | None:
    """Seconds before the signed-in account's access token expires, as its `exp` says (identity issues
    no longer one for a token it has given: the session then ends); None without a token that says."""
    token = access_token()
    try:
        expires_at = token_claims(token)["exp"] if token else None
    except (jwt.PyJWTError, KeyError):
        return None
    return max(0, int(expires_at - time.time())) if isinstance(expires_at, int | float) else None


def drafts_owner() -> str | None:
    """Whose drafts this browser keeps (drafts.js): a mark of the signed-in account, not its id (an
    HMAC of it), so that another account signed in on this browser is never shown them."""
    token = access_token()
    try:
        account = token_claims(token).get("sub") if token else None
    except jwt.PyJWTError:
        return None
    if not isinstance(account, str):
        return None
    return hmac.new(str(current_app.secret_key).encode(), account.encode(), "sha256").hexdigest()[:32]


def sign_in(token: str, email: str, locale: str | None, *, staff: bool = False) -> None:
    """Keep the token in the session (a new one: nothing of the anonymous session carries over);
    `staff` shows the console in the menu (the console itself asks identity each time)."""
    return_to = session.get("return_to")
    session.clear()
    session.update(token=token, email=email, staff=staff)  # and a new CSRF token on the next form
    if locale:
        session["locale"] = locale
    if return_to:
        session["return_to"] = return_to


def sign_out() -> None:
    """Forget the account (keeping the chosen language)."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def remember_return_to(path: str | None) -> None:
    """The page to come back to after logging in, creating an account or resetting the password."""
    session["return_to"] = page_to_return_to(path)


def return_path(default: str = "/") -> str:
    return page_to_return_to(session.get("return_to"), default)


def current_path() -> str:
    """This request's path with its query string, for coming back to it."""
    return request.full_path.rstrip("?")


def page_address() -> str:
    """Where to come back to this page (the language switch, the menu's Log in): this request's path
    if a GET opens it; for a page shown in answer to a form posted to an address only a POST opens
    (the recovery codes), the nearest address above it a GET opens, else /."""
    urls = current_app.url_map.bind_to_environ(request.environ)
    if request.method == "GET" or urls.test(request.path, "GET"):
        return current_path()
    path = request.path
    while "/" in path.rstrip("/"):
        path = path.rstrip("/").rsplit("/", 1)[0]
        if path and urls.test(path, "GET"):
            return path
    return "/"


def for_scripts(view: F) -> F:
    """Mark a view only a page's script calls (tus): its requests are a script's, Fetch Metadata or
    not (a browser without it, a client of its own)."""
    view.for_scripts = True  # type: ignore[attr-defined]
    return view


def asked_by_a_script() -> bool:
    """A page's script's fetch or XHR (`Sec-Fetch-Dest: empty`, never sent with a form or a link), or a
    view `for_scripts`."""
    view = current_app.view_functions.get(request.endpoint or "")
    return request.headers.get("Sec-Fetch-Dest") == "empty" or getattr(view, "for_scripts", False)


def session_ended_for_a_script() -> Response:
    """A script's request without a live session: 401, which the script says in the page. Sent the
    login page, it would follow the redirect and take its 200 for its answer (a preview, a broken upload
    line to try again). The session is left for the form sent next, whose CSRF token it holds, to go
    to the login page and back to its page."""
    detail = gettext("Your session has ended. Please log in again.")
    return problem_response(401, slug="session-ended", detail=detail)


def login_required(view: F) -> F:
    """Send an anonymous visitor to the login page, and back here afterwards. A signed-in one's
    session is checked with identity first: a cookie saved before a logout opens nothing."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = access_token()
        if token is None and asked_by_a_script():
            return session_ended_for_a_script()
        if token is None:
            remember_return_to(current_path())
            return redirect(url_for("sessions.login"))
        portal().identity.me(token)  # an ended session raises ApiError: the app sends it to log in
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def in_flow(
    key: str, start: str, done: str | None = None
) -> Callable[[Callable[[dict[str, Any]], R]], Callable[[], R | Response | tuple[str, int]]]:
    """For the pages of a flow under way (sign-up, password reset): the view is given the flow's state,
    `session[key]`; a visitor without one is sent to the flow's first page, the endpoint `start`, or,
    once `finish_flow(key)` said it is over (the back button, another tab), to its last page, `done`.
    A code page's form sends the email it was shown for: one of a flow started again since for
    another email (another tab) is answered with the code page of that one, not sent to identity."""

    def decorate(view: Callable[[dict[str, Any]], R]) -> Callable[[], R | Response | tuple[str, int]]:
        @functools.wraps(view)
        def wrapper() -> R | Response | tuple[str, int]:
            state = session.get(key)
            if state is None:
                return see_other(done if done and session.get(f"{key}_done") else start)
            shown = request.form.get("email")
            if shown is not None and shown != state.get("email"):
                message = gettext(
                    "This page was for the code sent to %(shown)s. Another code has been asked for since, "
                    "in another tab or window: enter the code sent to %(email)s.",
                    shown=shown,
                    email=state.get("email"),
                )
                return render_code_page(str(request.blueprint), state, {FORM: [message]}), 409
            return view(state)

        return wrapper

    return decorate


def finish_flow(key: str) -> None:
    """The flow `key` is over for this session: its pages lead to its last one (see `in_flow`)."""
    session.pop(key, None)
    session[f"{key}_done"] = True


def see_other(endpoint: str, **values: Any) -> Response:
    """303 to a page, the answer to a POST that worked."""
    return redirect(url_for(endpoint, **values), code=303)


def seconds_before_new_code(flow_state: Mapping[str, Any]) -> int:
    """How long the user must wait before asking for another code (identity answers 202 regardless)."""
    sent = CodeRequest(float(flow_state["sent_at"]), portal().settings.resend_cooldown_s)
    return sent.seconds_to_wait(time.time())


def typed_code(field: str = "code") -> str:
    """A code as typed in the form's `field`: one pasted with a space or a line break around or inside
    it, or typed as authenticator apps show it ("123 456"), is the code (recovery codes ignore spaces)."""
    return "".join(request.form.get(field, "").split())


def minutes_the_code_lasts(flow_state: Mapping[str, Any]) -> int:
    """Whole minutes, rounded up, before the code last sent expires (0: it has); the page may be
    opened again long after the code was sent."""
    left_s = float(flow_state["sent_at"]) + portal().settings.code_lifetime_s - time.time()
    return max(0, math.ceil(left_s / 60))


def render_code_page(flow: str, flow_state: Mapping[str, Any], errors: Mapping[str, list[str]]) -> str:
    """ "Check your inbox and enter verification code" of a flow (`signup` or `resets`)."""
    return render_template(
        "code.html",
        page_address=url_for(f"{flow}.verify"),  # also shown in answer to "Send new code"
        flow=flow,
        email=flow_state["email"],
        wait_s=seconds_before_new_code(flow_state),
        wait_for_new_code=wait_for_new_code,
        minutes=minutes_the_code_lasts(flow_state),
        errors=errors,
    )


def wait_for_new_code(seconds: int, shown: int | str) -> str:
    """How long before a new code may be asked for, in the singular or plural `seconds` takes;
    `shown` is the number written (the countdown's placeholder)."""
    return ngettext(
        "You can ask for a new code in %(seconds)s second.",
        "You can ask for a new code in %(seconds)s seconds.",
        seconds,
        seconds=shown,
    )


def identity_unavailable() -> list[str]:
    """Identity not answering a form of the public flows: said on its page, which stays with what was
    typed but the password (the flow goes on)."""
    return [gettext("The account service is unavailable. Please try again in a few minutes.")]


def resend_code(
    flow: str, flow_state: Mapping[str, Any], send: Callable[[], None]
) -> Response | tuple[str, int]:
    """ "Send new code" of a flow: `send` asks identity for it once the cooldown is over; the code page
    says how long to wait before then, and why when identity refuses."""
    if wait := seconds_before_new_code(flow_state):
        message = wait_for_new_code(wait, wait)
        return render_code_page(flow, flow_state, {"resend": [message]}), 429
    try:
        send()
    except ApiError as error:
        return render_code_page(flow, flow_state, {"resend": field_errors(error, {})[FORM]}), 400
    except ServiceUnavailable:
        return render_code_page(flow, flow_state, {"resend": identity_unavailable()}), 503
    message = gettext(
        "We have sent a new code to %(email)s. The previous code no longer works.", email=flow_state["email"]
    )
    flash(message)
    return see_other(f"{flow}.verify")


def install_long_forms(app: Flask, too_long_pages: Mapping[str, Callable[..., ResponseReturnValue]]) -> None:
    """Let the forms of these endpoints be up to LONG_FORM_BYTES, and answer a longer one with the
    endpoint's page in `too_long_pages` (its form, saying so) rather than a bare 413. Installed before
    the CSRF check, which reads the form."""

    @app.before_request
    def allow_long_form() -> ResponseReturnValue | None:
        too_long_page = too_long_pages.get(request.endpoint or "")
        if too_long_page is None:
            return None
        if (request.content_length or 0) > LONG_FORM_BYTES:
            return too_long_page(**(request.view_args or {}))
        request.max_content_length = request.max_form_memory_size = LONG_FORM_BYTES
        return None
