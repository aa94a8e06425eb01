"""The console's newsletter pages: the issues with their figures, and the editor (both languages
side by side, a live preview, test send, schedule, cancel)."""

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from accounts_common.inputguard import MAX_YEAR, MIN_YEAR
from accounts_common.roles import Role
from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.pages.console import render_console, staff_page, token
from portal.entrypoints.problems import FORM, field_errors
from portal.entrypoints.web import portal, see_other

blp = Blueprint("console_newsletter", __name__, url_prefix="/console")
log = logging.getLogger(__name__)


# --- Newsletter (newsletter-editor) ---------------------------------------------------------------

LANGUAGES = ("en", "fr")


@blp.app_template_test("in_progress")
def in_progress(issue: dict[str, Any]) -> bool:
    """An issue due, going out, or sent with results still to count: its page follows it."""
    figures = issue["figures"]
    counted = figures["sent"] + figures["failed"] + figures["bounced"]
    return issue["status"] in ("scheduled", "sending") or (
        issue["status"] == "sent" and counted < figures["recipients"]
    )


@blp.app_template_test("overdue")
def overdue(issue: dict[str, Any]) -> bool:
    """A scheduled issue whose time has come: the newsletter starts it once it has read the latest
    changes to its editors' roles (one revoked before then holds it instead)."""
    send_at = issue.get("send_at")
    return (
        issue["status"] == "scheduled"
        and bool(send_at)
        and datetime.fromisoformat(send_at) <= datetime.now(UTC)
    )


@blp.get("/newsletter")
@staff_page(Role.NEWSLETTER_EDITOR)
def newsletter() -> tuple[str, int]:
    """The page of the issues the address asks for (404 past the last)."""
    page = max(request.args.get("page", 1, int), 1)
    try:
        listed: dict[str, Any] | None = portal().issues.list(token(), page)
    except ApiError as error:  # a page past the newsletter's last one (10,000)
        if "page" not in error.errors:
            raise
        listed = None
    if listed is None or (not listed["items"] and listed["total"]):
        return render_console("newsletter.html", listed=None), 404
    return render_console("newsletter.html", listed=listed), 200


@blp.get("/newsletter/new")
@staff_page(Role.NEWSLETTER_EDITOR)
def new_issue() -> str:
    return render_editor(None, {"subject": {}, "body": {}}, None, {})[0]


@blp.get("/newsletter/<uuid:issue_id>")
@staff_page(Role.NEWSLETTER_EDITOR)
def issue(issue_id: Any) -> tuple[str, int]:
    """The issue's editor; `?as=saved`, opened beside an editor's refused save to compare, shows it as
    saved, keeping no draft in the browser (that editor's text kept would be put back over it)."""
    found = issue_or_404(str(issue_id))
    return render_editor(found, found, preview_of(found), {}, as_saved=request.args.get("as") == "saved")


def issue_or_404(issue_id: str) -> dict[str, Any]:
    """The issue; for one the newsletter does not know, this page does not exist."""
    try:
        return dict(portal().issues.get(token(), issue_id))
    except ApiError as error:
        if error.status != 404:
            raise
        abort(404)


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
    send_at: str = "",
    confirming: str | None = None,
    *,
    state_unknown: bool = False,
    read: str | None = None,
    saved_since: bool = False,
    as_saved: bool = False,
) -> tuple[str, int]:
    """The editor; `send_at` is the send time as typed, kept when it is refused; `confirming` asks to
    confirm the sending, "now" or at that RFC 3339 time, or the cancellation ("cancel");
    `state_unknown` leaves out the issue's state and actions (the newsletter did not answer); `read`:
    the updated_at of the copy the texts were typed over, when not `found`'s ("": none known);
    `saved_since` links the issue as saved, for an editor whose save came second to compare."""
    return render_console(
        "newsletter_issue.html",
        issue=found,
        texts=texts,
        preview=preview,
        errors=errors,
        issue_languages=LANGUAGES,
        send_at=send_at,
        confirming=confirming,
        state_unknown=state_unknown,
        read=read,
        saved_since=saved_since,
        as_saved=as_saved,
    ), status


@blp.post("/newsletter/previews")
@staff_page(Role.NEWSLETTER_EDITOR)
def live_preview() -> str:
    """The preview alone, for the editor's script to show as the editor types."""
    return render_template("console/newsletter_preview.html", preview=preview_of(posted_texts()))


@staff_page(Role.NEWSLETTER_EDITOR)
def too_long_preview() -> tuple[str, int]:
    return render_template("console/newsletter_preview.html", preview={}), 413


@blp.post("/newsletter")
@blp.post("/newsletter/<uuid:issue_id>")
@staff_page(Role.NEWSLETTER_EDITOR)
def save_issue(issue_id: Any = None) -> Response | tuple[str, int]:
    """Save the draft (a new one, or the issue's, over the copy the form was typed over), or only show
    its preview (`action=preview`)."""
    texts, read = posted_texts(), request.form.get("updated_at", "")
    try:
        found = issue_or_404(str(issue_id)) if issue_id else None
        if request.form.get("action") == "preview":
            return render_editor(found, texts, preview_of(texts), {}, read=read)
        if issue_id:
            saved = portal().issues.update(token(), str(issue_id), texts, read or None)
        else:
            saved = portal().issues.create(token(), texts)
    except ServiceUnavailable:  # the text stays on its page, to save again in a moment
        message = gettext("The newsletter is unavailable. Please try again in a few minutes.")
        draft = {"id": str(issue_id), "status": "draft"} if issue_id else None
        return render_editor(draft, texts, None, {FORM: [message]}, 503, state_unknown=True, read=read)
    except ApiError as error:
        if error.status not in (409, 413, 422):
            raise
        if error.status == 409:  # saved since, or its status changed: the issue as it is now
            found = issue_or_404(str(issue_id))
        shown = kept_text_preview(texts)
        if error.slug == "issue-changed":  # the text typed stays, now over that copy
            return render_editor(found, texts, shown, {FORM: [saved_since_message()]}, 400, saved_since=True)
        return render_editor(found, texts, shown, issue_errors(error, found), 400, read=read)
    flash(gettext("The draft is saved."))
    return see_other("console_newsletter.issue", issue_id=saved["id"])


def kept_text_preview(texts: dict[str, Any]) -> dict[str, Any] | None:
    """The preview of a refused save's text, kept on its page; None when the newsletter no longer
    answers (the text stays all the same)."""
    try:
        return preview_of(texts)
    except ServiceUnavailable:
        return None


def saved_since_message() -> str:
    """What happened to a save when someone saved the issue after the editor opened it, and what to do."""
    return gettext(
        "This issue was saved again after you opened it (by another editor, in another tab, or with a "
        "new video). Your text below is not saved yet: compare it with the issue as saved, then save "
        "again to replace it."
    )


@staff_page(Role.NEWSLETTER_EDITOR)
def too_long_issue(issue_id: Any = None) -> tuple[str, int]:
    """The answer to an editor's form too long to be read: the issue as last saved, and why."""
    found = issue_or_404(str(issue_id)) if issue_id else None
    message = gettext(
        "The issue is too long to be saved. Go back with your browser to find your text, and shorten it."
    )
    return render_editor(found, found or {"subject": {}, "body": {}}, None, {FORM: [message]}, 413)


@blp.post("/newsletter/<uuid:issue_id>/<any(test, send, cancel):action>")
@staff_page(Role.NEWSLETTER_EDITOR)
def issue_action(issue_id: Any, action: str) -> Response | tuple[str, int]:
    issues, issue_id = portal().issues, str(issue_id)
    typed = request.form.get("send_at", "")
    try:
        if action == "test":
            sent = issues.test(token(), issue_id)
            flash(gettext("A test was sent to %(email)s, in each language written.", email=sent["email"]))
        elif action == "cancel":
            if request.form.get("confirmed") != "yes":  # a cancelled issue is never sent: ask first
                return confirming_page(issue_or_404(issue_id), "cancel", typed, ("draft", "scheduled"))
            issues.cancel(token(), issue_id)
            flash(gettext("The issue is cancelled: it will not be sent."))
        else:
            send_at = scheduled_time(typed)
            if request.form.get("confirmed") != "yes":  # it goes to every subscriber, for good: ask first
                return confirming_page(issue_or_404(issue_id), send_at or "now", typed, ("draft",))
            try:
                state = issues.send(token(), issue_id, send_at, request.form.get("updated_at") or None)
            except ServiceUnavailable as unanswered:
                return send_unknown(issue_id, send_at, unanswered)
            flash(gettext("The issue is scheduled.") if state["status"] == "scheduled" else
                  gettext("The issue is being sent."))  # fmt: skip
    except ApiError as error:
        if error.status not in (404, 409, 413, 422):
            raise
        found = issue_or_404(issue_id)  # for a 404, this page does not exist
        if error.slug == "send-at-past":
            passed = gettext(
                "This time has passed. Leave the field empty to send now, or choose a later time."
            )
            return render_editor(found, found, preview_of(found), {"send_at": [passed]}, 400, typed)
        return render_editor(found, found, preview_of(found), issue_errors(error, found), 400, typed)
    except (ValueError, OverflowError):  # not a time, or one past the calendar's ends in UTC
        found = issue_or_404(issue_id)
        message = gettext("Enter the date and time, like 2026-12-24 09:00.")
        return render_editor(found, found, preview_of(found), {"send_at": [message]}, 400, typed)
    return see_other("console_newsletter.issue", issue_id=issue_id)


def send_unknown(issue_id: str, send_at: str | None, error: ServiceUnavailable) -> tuple[str, int]:
    """A confirmed send the newsletter did not answer (or answered with a 5xx): it may have been done
    all the same. The editor looks at the issue before asking again, rather than assume it did not go.
    Unless the newsletter said why it did nothing: identity could not confirm the editor's role."""
    link = {"href": url_for("console_newsletter.issue", issue_id=issue_id), "text": gettext("Open the issue")}
    if error.slug == "identity-unavailable":
        message = gettext("The issue was not sent.")
        detail = gettext(
            "Your newsletter editor role could not be confirmed just now. Try again in a moment."
        )
        return render_template("error.html", status=503, message=message, detail=detail, link=link), 503
    log.warning("send of issue %s, its outcome unknown: %s", issue_id, error)
    detail = (
        gettext(
            "It is not known whether the issue was scheduled: look at its page before scheduling it again."
        )
        if send_at
        else gettext(
            "It is not known whether the issue started to go out: look at its page before sending it again."
        )
    )
    message = gettext("The newsletter is unavailable.")
    return render_template("error.html", status=503, message=message, detail=detail, link=link), 503


def confirming_page(
    found: dict[str, Any], confirming: str, typed: str, statuses: tuple[str, ...]
) -> tuple[str, int]:
    """The issue, asking to confirm the action (see render_editor), when its status allows it; else (a
    page shown before it went, or was scheduled or cancelled elsewhere) why it cannot be done."""
    if found["status"] not in statuses:
        refused = issue_errors(ApiError(409, "issue-status"), found)
        return render_editor(found, found, preview_of(found), refused, 400, typed)
    return render_editor(found, found, preview_of(found), {}, 200, typed, confirming)


def scheduled_time(value: str) -> str | None:
    """The form's date and time in RFC 3339: UTC unless it names its offset (the form's field sends
    none); None (now) when empty; ValueError when not a time or out of the years the newsletter takes
    (a year typed in two digits is year 26), OverflowError past year 1 or 9999 in UTC."""
    if not value.strip():
        return None
    when = datetime.fromisoformat(value.strip())
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise ValueError(f"year {when.year} is out of {MIN_YEAR}-{MAX_YEAR}")
    return when.isoformat()


def issue_errors(error: ApiError, found: dict[str, Any] | None) -> dict[str, list[str]]:
    """The newsletter's refusal of a draft: at the top of the form, and next to each field it names."""
    fields = {f"{part}.{language}": f"{part}_{language}" for part in ("subject", "body")
              for language in LANGUAGES}  # fmt: skip
    named = field_errors(error, fields) if error.status == 422 and error.errors else {}
    return {**named, FORM: [issue_problem(error, found), *named.get(FORM, [])]}


def all_written(issue: dict[str, Any]) -> bool:
    """Whether each language has its subject and its text (an issue-incomplete is then about a text
    that renders to nothing)."""
    texts = [issue[part].get(language) for part in ("subject", "body") for language in LANGUAGES]
    return all((text or "").strip() for text in texts)


def issue_problem(error: ApiError, found: dict[str, Any] | None) -> str:
    """The newsletter's refusal in the page's language; `found`: the issue as it is now."""
    if error.slug == "issue-changed":
        return gettext("This issue was changed since you read it. Read it again here, then send it.")
    if error.slug == "issue-incomplete" and found is not None and all_written(found):
        return gettext(
            "A text shows nothing once mailed (only link definitions or comments): write something to "
            "read in it."
        )
    if error.slug == "issue-incomplete":
        return gettext("Write the subject and the text in English and in French before sending.")
    if error.status == 409 and found is not None and found["status"] == "scheduled":
        return gettext(
            "This issue is scheduled: it can no longer be changed, nor sent now. Cancel it if it must "
            "not go as it is."
        )
    if error.status == 409:
        return gettext("This issue has already gone, or was cancelled: it cannot be changed.")
    if error.status == 413:
        return gettext("The issue is too long.")
    return gettext("The issue could not be saved: check each field.")
