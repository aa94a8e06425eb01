"""The operators' console (DESIGN §8): staff only, each page for a role, every change a POST that
ends in a 303 back to its page. The services check the role again and audit every action; the
console only shows what they answer. Here: its layout and role check, and the support pages
(accounts, deliveries); the admin and newsletter pages have modules of their own."""

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, render_template, request
from flask_babel import gettext, ngettext
from werkzeug.wrappers import Response

from accounts_common.roles import Role
from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.problems import FORM, field_errors
from portal.entrypoints.web import access_token, login_required, portal, see_other

blp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])
# The sections of the console and the role each needs, in the order the menu lists them.
SECTIONS = (
    ("console_videos.videos", Role.CATALOGUE_EDITOR),
    ("console_newsletter.newsletter", Role.NEWSLETTER_EDITOR),
    ("console.accounts", Role.SUPPORT),
    ("console.deliveries", Role.SUPPORT),
    ("console_admin.staff", Role.ADMIN),
    ("console_admin.audit", Role.ADMIN),
)


def staff_page(role: Role | None = None) -> Callable[[F], F]:
    """A console page: 403 for anyone without a staff role (or without `role`), and a page asking
    for the second factor when this session was opened without one."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def checked(*args: Any, **kwargs: Any) -> Any:
            me = portal().identity.me(token())
            if not me["roles"] or (role is not None and role.value not in me["roles"]):
                abort(403)
            if not me["second_factor"]:
                return render_template("console/second_factor.html"), 403
            g.staff = me
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def token() -> str:
    return str(access_token())


def render_console(template: str, **context: Any) -> str:
    """The page inside the console's layout, with the sections this person may open."""
    sections = [endpoint for endpoint, role in SECTIONS if role.value in g.staff["roles"]]
    return render_template(f"console/{template}", sections=sections, **context)


@blp.app_template_filter("draft_base")
def draft_base(item: Mapping[str, Any], *parts: str) -> str:
    """The version of `item`'s texts (`parts`, each {language: text}) that a draft kept in the browser
    as it is typed starts from (portal.js's keepDraft): a digest, for neither the newsletter nor the
    catalogue answers a version or the time of the last change."""
    texts = {part: item.get(part) or {} for part in parts}
    return hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()


@blp.get("")
@staff_page()
def home() -> str:
    return render_console("home.html")


# --- Accounts (support) ---------------------------------------------------------------------------


@blp.get("/accounts")
@staff_page(Role.SUPPORT)
def accounts() -> tuple[str, int]:
    email = request.args.get("email", "").strip()
    return render_account_page(email, {})


def render_account_page(
    email: str, errors: dict[str, list[str]], status: int = 200, reason: str = ""
) -> tuple[str, int]:
    """The accounts page, with the account of `email` if one is asked for (and the erasure's `reason`
    as typed, when it is refused)."""
    account: dict[str, Any] | None = None
    mails: list[dict[str, Any]] = []
    mails_unavailable = False
    if email:
        try:
            account = portal().staff.account(token(), email)
        except ApiError as error:
            if error.status not in (404, 422):
                raise
            status = 404 if error.status == 404 else 400
            message = gettext("No account has this email address.") if error.status == 404 else None
            errors = {"email": [message]} if message else field_errors(error, {"email": "email"})
        if account is not None:
            mails, mails_unavailable = person_mails(email)
    return render_console(
        "accounts.html",
        email=email,
        account=account,
        mails=mails,
        mails_unavailable=mails_unavailable,
        reason=reason,
        errors=errors,
    ), status


def person_mails(email: str) -> tuple[list[dict[str, Any]], bool]:
    """The person's newest mails and whether the mailer failed to answer (the page still shows the rest)."""
    try:
        return portal().mailer.deliveries(token(), email), False
    except ServiceUnavailable:
        return [], True


@blp.post("/accounts/code-resends")
@staff_page(Role.SUPPORT)
def resend_code() -> Response | tuple[str, int]:
    email = request.form.get("email", "").strip()
    try:
        pending = portal().staff.resend_code(token(), email)
    except ApiError as error:
        if error.status == 422:  # an address identity cannot read: the form's, changed
            return render_account_page(email, field_errors(error, {"email": "email"}), 400)
        if error.status != 429:  # too many new codes asked for this email within the hour
            raise
        flash(field_errors(error, {})[FORM][0])
        return see_other("console.accounts", email=email)
    if pending:
        flash(
            gettext(
                "A new code is on its way to %(email)s, unless one went out in the last minute.", email=email
            )
        )
    else:
        flash(gettext("This account has no registration waiting for a code."))
    return see_other("console.accounts", email=email)


@blp.post("/accounts/erasures")
@staff_page(Role.SUPPORT)
def erase() -> Response | tuple[str, int]:
    email, reason = request.form.get("email", "").strip(), request.form.get("reason", "").strip()
    if not reason:
        return render_account_page(email, {"reason": [gettext("Say why the account is erased.")]}, 400)
    try:
        portal().staff.erase(token(), email, reason)
    except ApiError as error:
        if error.status == 422:
            return render_account_page(email, erasure_errors(error), 400, reason=reason)
        if error.status == 409:  # a staff account: an admin revokes its roles first
            return render_account_page(email, field_errors(error, {}), 409, reason=reason)
        if error.status != 404:  # erased meanwhile, by someone else: the outcome asked for
            raise
    flash(gettext("The account of %(email)s was erased.", email=email))
    return see_other("console.accounts")


def erasure_errors(error: ApiError) -> dict[str, list[str]]:
    """Identity's refusal of an erasure, next to the reason when that is what it refuses."""
    if "reason" in error.errors:
        return {"reason": [gettext("Write the reason in 3 to 200 characters.")]}
    return field_errors(error, {"email": "email"})


# --- Deliveries (support) -------------------------------------------------------------------------


@blp.get("/deliveries")
@staff_page(Role.SUPPORT)
def deliveries() -> tuple[str, int]:
    email = request.args.get("email", "").strip()
    mails, mails_unavailable, errors = searched_mails(email)
    try:
        (letters, more_letters), letters_unavailable = portal().mailer.dead_letters(token()), False
    except ServiceUnavailable:  # the mailer, or the Kafka its dead letters are in, did not answer
        letters, more_letters, letters_unavailable = [], False, True
    return render_console(
        "deliveries.html",
        email=email,
        mails=mails,
        mails_unavailable=mails_unavailable,
        letters=letters,
        more_letters=more_letters,
        letters_unavailable=letters_unavailable,
        errors=errors,
    ), 400 if errors else 200


def searched_mails(email: str) -> tuple[list[dict[str, Any]], bool, dict[str, list[str]]]:
    """The mails to `email` (none when no address is asked for), whether the mailer failed to answer,
    and what is wrong with the address when the mailer refuses it."""
    if not email:
        return [], False, {}
    try:
        mails, unavailable = person_mails(email)
    except ApiError as error:
        if error.status != 422:
            raise
        return [], False, field_errors(error, {"email": "email"})
    return mails, unavailable, {}


@blp.post("/deliveries/replays")
@staff_page(Role.SUPPORT)
def replay() -> Response:
    # Back to the page as it was: with the mails of the person looked up, if any.
    back = {"email": email} if (email := request.form.get("email", "").strip()) else {}
    letter = None if "all" in request.form else (_int("partition"), _int("offset"))
    try:
        replayed = portal().mailer.replay(token(), letter)
    except ApiError as error:
        if error.status != 404 or letter is None:
            raise
        flash(gettext("This dead letter is no longer in the list: it was replayed already."))
        return see_other("console.deliveries", **back)
    except ServiceUnavailable:  # the mailer, or its Kafka, did not answer (or stopped part way)
        flash(gettext("The mail service is unavailable. Please try again in a few minutes."))
        return see_other("console.deliveries", **back)
    flash(ngettext("%(num)d dead letter sent again.", "%(num)d dead letters sent again.", replayed))
    return see_other("console.deliveries", **back)


# A Kafka offset is a signed 64-bit number: at most 19 digits.
MAX_POSITION_DIGITS = 19


def _int(name: str) -> int:
    value = request.form.get(name, "")
    # isdigit() alone takes "²" and other digits int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_POSITION_DIGITS:
        abort(400)
    return int(value)
