"""The operators' console (DESIGN §8): staff only, each page for a role, every change a POST that
ends in a 303 back to its page. The services check the role again and audit every action; the
console only shows what they answer."""

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, render_template, request
from flask_babel import gettext
from werkzeug.wrappers import Response

from accounts_common.roles import Role
from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.problems import field_errors
from portal.entrypoints.web import access_token, login_required, portal, see_other

blp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])
# The sections of the console and the role each needs, in the order the menu lists them.
SECTIONS = (
    ("console_videos.videos", Role.CATALOGUE_EDITOR),
    ("console.newsletter", Role.NEWSLETTER_EDITOR),
    ("console.accounts", Role.SUPPORT),
    ("console.deliveries", Role.SUPPORT),
    ("console.staff", Role.ADMIN),
    ("console.audit", Role.ADMIN),
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


def render_account_page(email: str, errors: dict[str, list[str]], status: int = 200) -> tuple[str, int]:
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
def resend_code() -> Response:
    email = request.form.get("email", "").strip()
    if portal().staff.resend_code(token(), email):
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
        if error.status != 404:  # erased meanwhile, by someone else: the outcome asked for
            raise
    flash(gettext("The account of %(email)s was erased.", email=email))
    return see_other("console.accounts")


# --- Deliveries (support) -------------------------------------------------------------------------


@blp.get("/deliveries")
@staff_page(Role.SUPPORT)
def deliveries() -> str:
    email = request.args.get("email", "").strip()
    mails, unavailable = person_mails(email) if email else ([], False)
    try:
        letters = portal().mailer.dead_letters(token())
    except ServiceUnavailable:
        letters, unavailable = [], True
    return render_console(
        "deliveries.html", email=email, mails=mails, letters=letters, unavailable=unavailable
    )


@blp.post("/deliveries/replays")
@staff_page(Role.SUPPORT)
def replay() -> Response:
    if "all" in request.form:
        replayed = portal().mailer.replay(token())
    else:
        replayed = portal().mailer.replay(token(), (_int("partition"), _int("offset")))
    flash(gettext("%(count)s dead letter(s) sent again.", count=replayed))
    return see_other("console.deliveries")


def _int(name: str) -> int:
    value = request.form.get(name, "")
    if not value.isdigit():
        abort(400)
    return int(value)


# --- Staff (admin) --------------------------------------------------------------------------------


@blp.get("/staff")
@staff_page(Role.ADMIN)
def staff() -> tuple[str, int]:
    return render_staff_page({}, {})


def render_staff_page(
    values: dict[str, str], errors: dict[str, list[str]], status: int = 200
) -> tuple[str, int]:
    members = portal().staff.members(token())
    return render_console(
        "staff.html", members=members, roles=[role.value for role in Role], values=values, errors=errors
    ), status


@blp.post("/staff/<any(grants, revocations):change>")
@staff_page(Role.ADMIN)
def change_role(change: str) -> Response | tuple[str, int]:
    email, role = request.form.get("email", "").strip(), request.form.get("role", "")
    granting = change == "grants"
    try:
        changed = portal().staff.change_role(token(), email, role, grant=granting)
    except ApiError as error:
        if error.status not in (404, 422):
            raise
        if error.status == 404:
            message = gettext("No verified account has this email address.")
            return render_staff_page({"email": email}, {"email": [message]}, 404)
        return render_staff_page(
            {"email": email}, field_errors(error, {"email": "email", "role": "role"}), 400
        )
    if granting:
        flash(gettext("%(email)s now has the role %(role)s.", email=email, role=role) if changed else
              gettext("%(email)s already had the role %(role)s.", email=email, role=role))  # fmt: skip
    else:
        flash(gettext("%(email)s no longer has the role %(role)s.", email=email, role=role) if changed else
              gettext("%(email)s did not have the role %(role)s.", email=email, role=role))  # fmt: skip
    return see_other("console.staff")


# --- Audit (admin) --------------------------------------------------------------------------------


@blp.get("/audit")
@staff_page(Role.ADMIN)
def audit() -> tuple[str, int]:
    values = {name: request.args.get(name, "").strip() for name in ("actor", "action", "from", "to")}
    errors: dict[str, list[str]] = {}
    filters = {"actor": values["actor"], "action": values["action"]}
    for name, key, days in (("from", "since", 0), ("to", "until", 1)):
        if values[name]:
            try:
                day = date.fromisoformat(values[name]) + timedelta(days=days)
            except ValueError:
                errors[name] = [gettext("Enter a date, like 2026-12-04.")]
            else:
                filters[key] = f"{day.isoformat()}T00:00:00Z"
    entries: list[dict[str, Any]] = []
    if not errors:
        try:
            entries = portal().staff.audit(token(), filters)
        except ApiError as error:
            if error.status != 422:
                raise
            errors = field_errors(
                error, {"actor": "actor", "action": "action", "since": "from", "until": "to"}
            )
    status = 400 if errors else 200
    return render_console("audit.html", entries=entries, values=values, errors=errors), status


# --- Newsletter (newsletter-editor) ---------------------------------------------------------------

LANGUAGES = ("en", "fr")


@blp.get("/newsletter")
@staff_page(Role.NEWSLETTER_EDITOR)
def newsletter() -> str:
    return render_console("newsletter.html", issues=portal().issues.list(token()))


@blp.get("/newsletter/new")
@staff_page(Role.NEWSLETTER_EDITOR)
def new_issue() -> str:
    return render_editor(None, {"subject": {}, "body": {}}, None, {})[0]


@blp.get("/newsletter/<uuid:issue_id>")
@staff_page(Role.NEWSLETTER_EDITOR)
def issue(issue_id: Any) -> tuple[str, int]:
    try:
        found = portal().issues.get(token(), str(issue_id))
    except ApiError as error:
        if error.status != 404:
            raise
        abort(404)
    return render_editor(found, found, preview_of(found), {})


def posted_texts() -> dict[str, dict[str, str]]:
    """The editor's form as an issue's texts: {subject: {en, fr}, body: {en, fr}}, blanks left out."""
    texts: dict[str, dict[str, str]] = {"subject": {}, "body": {}}
    for part in texts:
        for language in LANGUAGES:
            value = request.form.get(f"{part}_{language}", "")
            if value.strip():
                texts[part][language] = value.replace("\r\n", "\n")
    return texts


def preview_of(texts: dict[str, Any]) -> dict[str, Any]:
    """Each written language as it will be mailed; {} when nothing is written yet."""
    if not (texts["subject"] or texts["body"]):
        return {}
    try:
        return dict(portal().issues.preview(token(), {"subject": texts["subject"], "body": texts["body"]}))
    except ApiError as error:
        if error.status not in (413, 422):
            raise
        return {}


def render_editor(
    found: dict[str, Any] | None,
    texts: dict[str, Any],
    preview: dict[str, Any] | None,
    errors: dict[str, list[str]],
    status: int = 200,
) -> tuple[str, int]:
    return render_console(
        "newsletter_issue.html",
        issue=found,
        texts=texts,
        preview=preview,
        errors=errors,
        issue_languages=LANGUAGES,
    ), status


@blp.post("/newsletter/previews")
@staff_page(Role.NEWSLETTER_EDITOR)
def live_preview() -> str:
    """The preview alone, for the editor's script to show as the editor types."""
    return render_template("console/newsletter_preview.html", preview=preview_of(posted_texts()))


@blp.post("/newsletter")
@blp.post("/newsletter/<uuid:issue_id>")
@staff_page(Role.NEWSLETTER_EDITOR)
def save_issue(issue_id: Any = None) -> Response | tuple[str, int]:
    """Save the draft (a new one, or the issue's), or only show its preview (`action=preview`)."""
    texts = posted_texts()
    found = portal().issues.get(token(), str(issue_id)) if issue_id else None
    if request.form.get("action") == "preview":
        return render_editor(found, texts, preview_of(texts), {})
    try:
        if issue_id:
            saved = portal().issues.update(token(), str(issue_id), texts)
        else:
            saved = portal().issues.create(token(), texts)
    except ApiError as error:
        if error.status not in (409, 413, 422):
            raise
        return render_editor(found, texts, None, {"_form": [issue_problem(error)]}, 400)
    flash(gettext("The draft is saved."))
    return see_other("console.issue", issue_id=saved["id"])


@blp.post("/newsletter/<uuid:issue_id>/<any(test, send, cancel):action>")
@staff_page(Role.NEWSLETTER_EDITOR)
def issue_action(issue_id: Any, action: str) -> Response | tuple[str, int]:
    issues, issue_id = portal().issues, str(issue_id)
    try:
        if action == "test":
            sent = issues.test(token(), issue_id)
            flash(gettext("A test was sent to %(email)s, in each language written.", email=sent["email"]))
        elif action == "cancel":
            issues.cancel(token(), issue_id)
            flash(gettext("The issue is cancelled: it will not be sent."))
        else:
            send_at = scheduled_time(request.form.get("send_at", ""))
            state = issues.send(token(), issue_id, send_at)
            flash(gettext("The issue is scheduled.") if state["status"] == "scheduled" else
                  gettext("The issue is being sent."))  # fmt: skip
    except ApiError as error:
        if error.status not in (404, 409, 413, 422):
            raise
        found = issues.get(token(), issue_id)
        return render_editor(found, found, preview_of(found), {"_form": [issue_problem(error)]}, 400)
    except ValueError:
        found = issues.get(token(), issue_id)
        message = gettext("Enter the date and time, like 2026-12-24 09:00.")
        return render_editor(found, found, preview_of(found), {"send_at": [message]}, 400)
    return see_other("console.issue", issue_id=issue_id)


def scheduled_time(value: str) -> str | None:
    """The form's date and time (UTC) in RFC 3339; None (now) when empty; ValueError when not a time."""
    if not value.strip():
        return None
    return datetime.fromisoformat(value.strip()).replace(tzinfo=UTC).isoformat()


def issue_problem(error: ApiError) -> str:
    """The newsletter's refusal in the page's language."""
    if error.slug == "issue-incomplete":
        return gettext("Write the subject and the text in English and in French before sending.")
    if error.status == 409:
        return gettext("This issue has already gone, or was cancelled: it cannot be changed.")
    if error.status == 413:
        return gettext("The issue is too long.")
    return gettext("The issue could not be saved: check each field.")
