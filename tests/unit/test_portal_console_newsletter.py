"""The console's Newsletter pages (newsletter editors) with fakes of the newsletter behind them."""

import json
import re
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from portal.adapters.http import ApiError, JsonApi, ServiceUnavailable
from portal.adapters.newsletter import IssuesClient
from portal.domain.mail_preview import headings_under
from tests.support.served import FakeHandler, serving
from tests.unit.test_portal import UPLOAD, EditorIdentity, PastTimeIssue, csrf_token, staff_client


def send_at_field(page: str) -> str:
    found = re.search(r'<input id="send_at"[^>]*>', page)
    assert found, "the page has no send_at field"
    return found.group(0)


def test_a_refused_send_time_is_kept_in_its_field_to_correct():
    client = staff_client(EditorIdentity(), issues=PastTimeIssue())
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    for typed in ("2020-01-01T09:00", "next tuesday"):
        form = {"csrf_token": token, "send_at": typed, "confirmed": "yes"}
        refused = client.post(f"/console/newsletter/{UPLOAD}/send", data=form)
        assert refused.status_code == 400
        assert f'value="{typed}"' in send_at_field(refused.text)


class DraftIssue(PastTimeIssue):
    """The newsletter's issues: one draft in both languages; records the sends asked for."""

    def __init__(self) -> None:
        self.sends: list[str | None] = []

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, object]:
        self.sends.append(send_at)
        return {"status": "scheduled" if send_at else "sending"}


@pytest.mark.parametrize(
    ("typed", "asked", "sent"),
    [
        ("", "Send this issue now to every subscriber", None),
        ("2027-01-05T09:00", "at January 5, 2027, 9:00:00 AM UTC", "2027-01-05T09:00:00+00:00"),
    ],
)
def test_sending_an_issue_asks_for_a_confirmation_first(typed, asked, sent):
    issues = DraftIssue()
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    form = {"csrf_token": token, "send_at": typed}
    asking = client.post(f"/console/newsletter/{UPLOAD}/send", data=form)
    assert asking.status_code == 200 and issues.sends == []
    assert asked in asking.text.replace("\u202f", " ")
    confirmation = re.search(r"<form [^>]*data-confirm-send.*?</form>", asking.text, re.S)
    assert confirmation and f'name="send_at" value="{typed}"' in confirmation.group(0)
    assert 'name="confirmed" value="yes"' in confirmation.group(0)
    assert "Cancel the issue" not in asking.text

    confirmed = client.post(f"/console/newsletter/{UPLOAD}/send", data={**form, "confirmed": "yes"})
    assert confirmed.status_code == 303 and issues.sends == [sent]


class EditedMeanwhile(DraftIssue):
    """The newsletter's issue, saved again by another editor while this one was asked to confirm it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str | None] = []

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, object]:
        self.reads.append(read)
        raise ApiError(409, "issue-changed", "The issue was edited since the copy you read.")


def test_a_send_confirmed_on_a_copy_edited_since_is_refused_and_the_editor_told_to_read_it_again():
    """What goes to every subscriber is what the editor confirmed: the confirmation names its copy."""
    issues = EditedMeanwhile()
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    form = {"csrf_token": token, "send_at": "2027-01-05T09:00"}
    asking = client.post(f"/console/newsletter/{UPLOAD}/send", data=form)
    confirmation = re.search(r"<form [^>]*data-confirm-send.*?</form>", asking.text, re.S)
    assert confirmation, "no confirmation asked"
    read = re.search(r'name="updated_at" value="([^"]*)"', confirmation.group(0))
    assert read and read.group(1) == PastTimeIssue.ISSUE["updated_at"]

    confirmed = {**form, "confirmed": "yes", "updated_at": read.group(1)}
    refused = client.post(
        f"/console/newsletter/{UPLOAD}/send", data=confirmed, headers={"Accept-Language": "fr"}
    )
    assert refused.status_code == 400 and issues.reads == [PastTimeIssue.ISSUE["updated_at"]]
    assert "Ce numéro a été modifié depuis que vous l’avez lu" in refused.text
    assert 'value="2027-01-05T09:00"' in send_at_field(refused.text), "the time typed stays"


def post_in_french(issues: object, action: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    """A French-speaking editor's form posted to the issue's page (`action`: "", "/send"...)."""
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, "/console/newsletter/new")
    return client.post(
        f"/console/newsletter/{UPLOAD}{action}",
        data={"csrf_token": token, **form},
        headers={"Accept-Language": "fr"},
    )


class ScheduledInAnotherTab(DraftIssue):
    """The newsletter's issue, scheduled from another tab: it refuses to change or send it (409)."""

    ISSUE = {**DraftIssue.ISSUE, "status": "scheduled", "send_at": "2027-01-05T09:00:00+00:00"}

    def update(self, token: str, issue_id: str, texts: object, read: str | None) -> dict[str, object]:
        raise ApiError(409, "issue-status", "The issue is scheduled: it cannot be changed so.")

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, object]:
        return self.update(token, issue_id, None, read)


@pytest.mark.parametrize(
    ("action", "form"),
    [("", {"subject_en": "Summit", "body_en": "Text", "action": "save"}), ("/send", {"confirmed": "yes"})],
    ids=["save", "send"],
)
def test_an_issue_scheduled_from_another_tab_is_said_to_be_scheduled_not_gone(action, form):
    """It has not gone, and it can still be cancelled: the editor must not be told otherwise."""
    refused = post_in_french(ScheduledInAnotherTab(), action, form)
    assert refused.status_code == 400
    assert "Ce numéro est programmé : il ne peut plus être modifié" in refused.text
    assert "déjà parti" not in refused.text
    assert 'data-status="scheduled"' in state_part(refused.text)


class FrenchTextShowsNothing(DraftIssue):
    """The newsletter's issue, written in both languages, the French text only a Markdown comment."""

    ISSUE = {**DraftIssue.ISSUE, "body": {"en": "Text", "fr": "[//]: # (à écrire)"}}
    NOTHING = "Nothing to read: the body renders to an empty mail (only link definitions or comments?)."

    def test(self, token: str, issue_id: str) -> dict[str, object]:
        raise ApiError(422, "issue-incomplete", errors={"body.fr": [self.NOTHING]})

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, object]:
        return self.test(token, issue_id)


@pytest.mark.parametrize("action", ["/test", "/send"])
def test_a_text_that_shows_nothing_once_mailed_is_said_so_next_to_it_not_as_unwritten(action):
    """Both languages are written: "write the subject and the text" would send the editor looking for
    a field they already filled."""
    refused = post_in_french(FrenchTextShowsNothing(), action, {"confirmed": "yes"})
    assert refused.status_code == 400
    assert "Rédigez l’objet et le texte" not in refused.text
    assert "Un texte n’affiche rien une fois envoyé" in refused.text
    textarea = re.search(r'<textarea id="body_fr"[^>]*>', refused.text)
    assert textarea and 'aria-invalid="true"' in textarea.group(0)


class CancellableIssue(DraftIssue):
    """The newsletter's issues: one draft; records the cancellations asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.cancels: list[str] = []

    def cancel(self, token: str, issue_id: str) -> None:
        self.cancels.append(issue_id)


def test_cancelling_an_issue_asks_for_a_confirmation_first():
    """A cancelled issue can never be sent: one click next to "Send me a test" must not do it."""
    issues = CancellableIssue()
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    asking = client.post(f"/console/newsletter/{UPLOAD}/cancel", data={"csrf_token": token})
    assert asking.status_code == 200 and issues.cancels == []
    assert "Cancel this issue?" in asking.text
    confirmation = re.search(r"<form [^>]*data-confirm-cancel.*?</form>", asking.text, re.S)
    assert confirmation and 'name="confirmed" value="yes"' in confirmation.group(0)
    assert "Send or schedule" not in asking.text

    confirmed = client.post(
        f"/console/newsletter/{UPLOAD}/cancel", data={"csrf_token": token, "confirmed": "yes"}
    )
    assert confirmed.status_code == 303 and issues.cancels == [UPLOAD]


@pytest.mark.parametrize(
    ("action", "question"),
    [("send", "Envoyer ce numéro maintenant à tous les abonnés"), ("cancel", "Annuler ce numéro ?")],
    ids=["send", "cancel"],
)
def test_a_french_editor_is_asked_to_confirm_in_french(action, question):
    client = staff_client(EditorIdentity(), issues=CancellableIssue())
    page = f"/console/newsletter/{UPLOAD}"
    token = csrf_token(client, page)
    asking = client.post(f"{page}/{action}", data={"csrf_token": token}, headers={"Accept-Language": "fr"})
    assert question in asking.text.replace("\u202f", " ")


class RefusedText(DraftIssue):
    """The newsletter refusing a draft's French text: a control character pasted from a word processor."""

    def update(self, token: str, issue_id: str, texts: object, read: str | None) -> dict[str, object]:
        raise ApiError(
            422, "validation-error", errors={"body.fr": ["Contains the control character U+000B."]}
        )


def test_a_text_the_newsletter_refuses_is_said_next_to_its_field_in_the_editors_language():
    client = staff_client(EditorIdentity(), issues=RefusedText())
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    form = {"csrf_token": token, "subject_en": "Summit", "subject_fr": "Sommet", "body_en": "Text",
            "body_fr": "Texte\x0bcollé", "action": "save"}  # fmt: skip
    refused = client.post(f"/console/newsletter/{UPLOAD}", data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 400
    errors = re.search(r'<ul class="errors" id="body_fr-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "caractères invisibles" in errors.group(1)
    textarea = re.search(r'<textarea id="body_fr"[^>]*>', refused.text)
    assert textarea and 'aria-invalid="true"' in textarea.group(0)
    assert re.search(r'aria-describedby="markdown-hint body_fr-errors"', textarea.group(0))
    assert "Texte\x0bcollé</textarea>" in refused.text


def state_part(page: str) -> str:
    """The issue page's part the page's script fetches again while it is marked in progress."""
    found = re.search(r'<div id="issue-state" data-refresh-while-processing>(.*?)</div>', page, re.S)
    assert found, "the issue's state is not a part the page refreshes"
    return found.group(1)


@pytest.mark.parametrize(
    ("status", "figures", "in_progress"),
    [
        ("scheduled", {"recipients": 0, "sent": 0}, True),
        ("sending", {"recipients": 3, "sent": 1}, True),
        ("sent", {"recipients": 3, "sent": 2}, True),  # the last result not counted yet
        ("sent", {"recipients": 3, "sent": 3}, False),
        ("cancelled", {"recipients": 0, "sent": 0}, False),
    ],
)
def test_the_figures_of_an_issue_being_sent_follow_on_the_page(status, figures, in_progress):
    issue = {**PastTimeIssue.ISSUE, "status": status, "send_at": "2027-01-05T09:00:00+00:00",
             "figures": {**PastTimeIssue.FIGURES, "failed": 0, "bounced": 0, **figures}}  # fmt: skip
    issues = PastTimeIssue()
    issues.ISSUE = issue
    page = staff_client(EditorIdentity(), issues=issues).get(f"/console/newsletter/{UPLOAD}")
    assert page.status_code == 200
    assert ("data-in-progress" in state_part(page.text)) is in_progress


class NewsletterDown:
    """The newsletter not answering (restarting, say)."""

    def get(self, token: str, issue_id: str) -> dict[str, object]:
        raise ServiceUnavailable("newsletter", "connection refused")

    create = update = preview = get


@pytest.mark.parametrize("path", ["/console/newsletter", f"/console/newsletter/{UPLOAD}"])
def test_an_issue_saved_while_the_newsletter_is_down_stays_on_its_page_to_save_again(path):
    client = staff_client(EditorIdentity(), issues=NewsletterDown())
    token = csrf_token(client, "/console/newsletter/new")
    form = {"csrf_token": token, "subject_en": "Summit", "subject_fr": "Sommet", "body_en": "A long text",
            "body_fr": "Un long texte", "action": "save"}  # fmt: skip
    refused = client.post(path, data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 503
    assert "La lettre d’information est indisponible." in refused.text
    assert re.search(rf'<form method="post" action="{path}"', refused.text)
    assert 'value="Sommet"' in refused.text and ">Un long texte</textarea>" in refused.text


def test_the_issues_list_follows_an_issue_being_sent():
    sending = {**PastTimeIssue.ISSUE, "status": "sending",
               "figures": {**PastTimeIssue.FIGURES, "recipients": 3, "sent": 1}}  # fmt: skip
    issues = PastTimeIssue()
    issues.ISSUE = sending
    page = staff_client(EditorIdentity(), issues=issues).get("/console/newsletter")
    found = re.search(r'<div id="issue-list" data-refresh-while-processing>(.*?)</div>', page.text, re.S)
    assert found and re.search(r'<tr data-issue="[^"]+" data-in-progress>', found.group(1))
    sent = staff_client(EditorIdentity(), issues=PastTimeIssue()).get("/console/newsletter")
    assert "data-in-progress" not in sent.text


@pytest.mark.parametrize(
    "typed",
    [
        "0001-01-01T00:00+01:00",
        "9999-12-31T23:59-01:00",
        "0026-12-24T09:00",  # a year typed in two digits, as a datetime-local field takes it
        "9999-06-01T09:00",  # years the newsletter's input guard refuses, 1000 to 9998 aside
    ],
)
def test_a_send_time_out_of_the_calendars_range_is_said_next_to_its_field_not_a_500(typed):
    issues = DraftIssue()
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    form = {"csrf_token": token, "send_at": typed, "confirmed": "yes"}
    refused = client.post(f"/console/newsletter/{UPLOAD}/send", data=form)
    assert refused.status_code == 400 and issues.sends == []
    errors = re.search(r'<ul class="errors" id="send_at-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Enter the date and time, like 2026-12-24 09:00." in errors.group(1)


class ManyIssues:
    """The newsletter's GET /v1/issues: 120 issues newest first, `per_page` a page (20 unless asked),
    the oldest scheduled; and its 422 past page 10,000."""

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             query: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:  # fmt: skip
        assert (method, path, token) == ("GET", "/v1/issues", "a-staff-token")
        page, per_page = int((query or {}).get("page", 1)), int((query or {}).get("per_page", 20))
        if page > 10_000:
            raise ApiError(422, "validation-error", errors={"page": ["Must be between 1 and 10000."]})
        every = [{**PastTimeIssue.ISSUE, "id": f"i-{n}", "subject": {"en": f"Issue {n}"}} for n in range(120)]
        every[-1] = {**every[-1], "status": "scheduled", "send_at": "2027-01-05T09:00:00+00:00"}
        items = every[(page - 1) * per_page : page * per_page]
        return {"items": items, "total": len(every), "page": page, "per_page": per_page}


def issues_client():  # type: ignore[no-untyped-def]
    return staff_client(EditorIdentity(), issues=IssuesClient(ManyIssues()))  # type: ignore[arg-type]


def issue_list(page: str) -> str:
    found = re.search(r'<div id="issue-list" data-refresh-while-processing>(.*?)</div>', page, re.S)
    assert found, "the list is not a part the page refreshes"
    return found.group(1)


def test_every_issue_can_be_reached_page_by_page_and_the_oldest_is_followed_on_its_page():
    first = issues_client().get("/console/newsletter")
    assert first.status_code == 200 and ">Issue 0<" in first.text and ">Issue 50<" not in first.text
    assert "Page 1 of 3" in first.text and 'href="/console/newsletter?page=2">Next page' in first.text
    last = issues_client().get("/console/newsletter?page=3")
    assert last.status_code == 200 and "Page 3 of 3" in last.text and "Next page" not in last.text
    assert 'href="/console/newsletter?page=2">Previous page' in last.text
    part = issue_list(last.text)
    assert '<a href="/console/newsletter/i-119">Issue 119</a>' in part
    assert re.search(r'<tr data-issue="i-119" data-in-progress>', part), "the scheduled one is followed"
    assert "Page 3 of 3" in part, "a refresh keeps the pages"


@pytest.mark.parametrize("page", ["4", "10001"])
def test_a_page_of_issues_past_the_last_says_so_and_leads_to_the_first(page):
    answer = issues_client().get(f"/console/newsletter?page={page}", headers={"Accept-Language": "fr"})
    assert answer.status_code == 404
    assert "Cette page de la liste n’existe pas." in answer.text
    assert re.search(r'href="/console/newsletter">[^<]*première page', answer.text)
    assert "Rédiger un nouveau numéro" in answer.text


class NoSuchIssue:
    """The newsletter knowing no issue of this id (an address typed, or kept from another system)."""

    def get(self, token: str, issue_id: str) -> dict[str, Any]:
        raise ApiError(404, "issue-not-found", "There is no issue with this id.")

    update = test = cancel = get

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, Any]:
        return self.get(token, issue_id)


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("", {"subject_en": "News", "action": "save"}),
        ("", {"subject_en": "News", "action": "preview"}),
        ("", {"body_en": "x" * 3_000_000}),  # too long to read: the issue as last saved is shown
        ("/test", {}),
        ("/send", {}),
        ("/send", {"confirmed": "yes"}),
        ("/cancel", {}),
        ("/cancel", {"confirmed": "yes"}),
    ],
)
def test_a_form_posted_to_an_issue_the_newsletter_does_not_know_is_a_page_that_does_not_exist(action, form):
    answer = post_in_french(NoSuchIssue(), action, form)
    assert answer.status_code == 404 and "Cette page n’existe pas." in answer.text


class Scheduled(DraftIssue):
    def __init__(self, send_at: datetime) -> None:
        super().__init__()
        self.ISSUE = {**DraftIssue.ISSUE, "status": "scheduled", "send_at": send_at.isoformat()}


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (
            "en",
            "Its time has come: it starts as soon as the newsletter has read the latest changes to editors",
        ),
        ("fr", "Son heure est venue : il part dès que la lettre d’information a lu les derniers changements"),
    ],
)
def test_a_scheduled_issue_whose_time_has_come_says_what_it_waits_for(language, said):
    """The scheduler starts a due issue once it has read the role changes from before its time: an
    editor looking at it then sees why it is still scheduled; before its time, nothing is said."""
    for minutes, shown in ((-1, True), (30, False)):
        issues = Scheduled(datetime.now(UTC) + timedelta(minutes=minutes))
        page = staff_client(EditorIdentity(), issues=issues).get(
            f"/console/newsletter/{UPLOAD}", headers={"Accept-Language": language}
        )
        assert (said in state_part(page.text)) is shown, minutes
        assert ("data-due" in page.text) is shown, minutes


class MovedOn(DraftIssue):
    """The newsletter's issue, gone further since the editor's page was shown (the scheduler started
    it, another editor cancelled or scheduled it)."""

    def __init__(self, status: str) -> None:
        super().__init__()
        self.ISSUE = {**DraftIssue.ISSUE, "status": status, "send_at": "2027-01-05T09:00:00+00:00"}


@pytest.mark.parametrize(
    ("status", "action", "said"),
    [
        ("sending", "cancel", "This issue has already gone, or was cancelled: it cannot be changed."),
        ("sent", "cancel", "This issue has already gone, or was cancelled: it cannot be changed."),
        ("cancelled", "send", "This issue has already gone, or was cancelled: it cannot be changed."),
        ("scheduled", "send", "This issue is scheduled: it can no longer be changed, nor sent now."),
    ],
)
def test_a_send_or_cancel_asked_on_a_page_shown_before_the_issue_moved_on_says_why_nothing_is_asked(
    status, action, said
):
    """The editor's page still had its button: instead of the question, the issue as it now is, and why
    it cannot be done, not the issue's page as if nothing had been clicked."""
    client = staff_client(EditorIdentity(), issues=MovedOn(status))
    token = csrf_token(client, "/console/newsletter/new")
    refused = client.post(f"/console/newsletter/{UPLOAD}/{action}", data={"csrf_token": token})
    assert refused.status_code == 400
    assert said in refused.text and f'data-status="{status}"' in state_part(refused.text)
    assert "data-confirm-" not in refused.text


def sent_once(page: str, marker: str) -> bool:
    """Whether the page's form marked `marker` is one portal.js sends once (data-send-once)."""
    found = re.search(rf"<form [^>]*{marker}[^>]*>", page)
    assert found, f"the page has no form {marker}"
    return "data-send-once" in found.group(0)


def test_a_second_click_on_save_send_or_cancel_sends_nothing_more():
    """A double click on a new issue's Save made two issues; on Save, a refusal of the second save as
    someone else's; on "Yes, send it now", the page said the issue had already gone."""
    client = staff_client(EditorIdentity(), issues=CancellableIssue())
    issue = f"/console/newsletter/{UPLOAD}"
    assert sent_once(client.get("/console/newsletter/new").text, "data-live-preview")
    assert sent_once(client.get(issue).text, "data-live-preview")
    token = csrf_token(client, issue)
    for action, marker in (("send", "data-confirm-send"), ("cancel", "data-confirm-cancel")):
        asking = client.post(f"{issue}/{action}", data={"csrf_token": token})
        assert asking.status_code == 200 and sent_once(asking.text, marker), action


class SendUnanswered(DraftIssue):
    """The newsletter taking the send, then failing before its answer (a 502 from the proxy, say)."""

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, object]:
        super().send(token, issue_id, send_at, read)
        raise ServiceUnavailable("newsletter", "HTTP 502")


@pytest.mark.parametrize(
    ("typed", "language", "said"),
    [
        ("", "en", "It is not known whether the issue started to go out: look at its page before sending"),
        ("", "fr", "On ne sait pas si l’envoi du numéro a commencé : consultez sa page avant de l’envoyer"),
        ("2027-01-05T09:00", "en", "It is not known whether the issue was scheduled: look at its page"),
        ("2027-01-05T09:00", "fr", "On ne sait pas si le numéro a été programmé : consultez sa page"),
    ],
)
def test_a_send_the_newsletter_did_not_answer_is_said_to_be_unknown_with_the_issue_to_look_at(
    typed, language, said
):
    """It may have gone all the same: "try again in a few minutes" would have the editor send it again,
    or believe that nothing went out."""
    issues = SendUnanswered()
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    form = {"csrf_token": token, "send_at": typed, "confirmed": "yes"}
    answer = client.post(
        f"/console/newsletter/{UPLOAD}/send", data=form, headers={"Accept-Language": language}
    )
    assert answer.status_code == 503 and len(issues.sends) == 1
    assert said in answer.text
    assert re.search(rf'<a class="button" href="/console/newsletter/{UPLOAD}">', answer.text)
    assert "try again" not in answer.text and "réessayer" not in answer.text


class RoleUnconfirmed(FakeHandler):
    """The newsletter refusing a send, having written nothing: identity could not confirm the role."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        problem = {"type": "https://errors.example/identity-unavailable", "status": 503,
                   "title": "Service Unavailable", "detail": "Your role cannot be confirmed."}  # fmt: skip
        self.answer(503, json.dumps(problem).encode(), "application/problem+json")


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "The issue was not sent.</h1>"),
        ("en", "Your newsletter editor role could not be confirmed just now. Try again in a moment."),
        ("fr", "Le numéro n’a pas été envoyé.</h1>"),
        ("fr", "Votre rôle de rédacteur de la lettre d’information n’a pas pu être confirmé pour le moment."),
    ],
)
def test_a_send_refused_for_want_of_identity_says_nothing_was_sent(language, said):
    """Not "it is not known whether it went": the newsletter said it did nothing, and why."""
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), RoleUnconfirmed)) as newsletter:
        api = JsonApi("newsletter", f"http://127.0.0.1:{newsletter.server_port}", timeout=5)
        client = staff_client(EditorIdentity(), issues=IssuesClient(api))
        token = csrf_token(client, "/console/newsletter/new")
        form = {"csrf_token": token, "send_at": "", "confirmed": "yes"}
        answer = client.post(
            f"/console/newsletter/{UPLOAD}/send", data=form, headers={"Accept-Language": language}
        )
    assert answer.status_code == 503 and said in answer.text
    assert re.search(rf'<a class="button" href="/console/newsletter/{UPLOAD}">', answer.text)


class ProxyPage(FakeHandler):
    """A 502 page from a proxy in front of the newsletter: no problem of the newsletter's own."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer(502, b"<html><body>Bad Gateway</body></html>", "text/html")


@pytest.mark.parametrize(("handler", "slug"), [(RoleUnconfirmed, "identity-unavailable"), (ProxyPage, None)])
def test_a_5xx_keeps_the_services_own_problem_and_no_other(handler, slug):
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as newsletter:
        api = JsonApi("newsletter", f"http://127.0.0.1:{newsletter.server_port}", timeout=5)
        with pytest.raises(ServiceUnavailable) as unavailable:
            api.call("POST", f"/v1/issues/{UPLOAD}/send", {})
    assert unavailable.value.slug == slug and unavailable.value.status in (502, 503)


class HeldIssue(PastTimeIssue):
    """The newsletter's issues: one draft again, its scheduler having lost the newsletter-editor role."""

    ISSUE = {**PastTimeIssue.ISSUE, "held_because": "role-revoked"}


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("en", "Back to draft: the editor who scheduled it no longer has the newsletter editor role."),
        ("fr", "Revenu au brouillon : le rédacteur qui l’avait programmé n’a plus le rôle de rédacteur"),
    ],
)
def test_an_issue_back_to_draft_says_why_in_the_list_and_on_its_page_and_can_be_scheduled(language, reason):
    client = staff_client(EditorIdentity(), issues=HeldIssue())
    language_header = {"Accept-Language": language}
    listed = client.get("/console/newsletter", headers=language_header)
    issue = client.get(f"/console/newsletter/{UPLOAD}", headers=language_header)
    for page in (listed, issue):
        assert page.status_code == 200
        held = re.search(r'data-held="role-revoked">([^<]*)<', page.text)
        assert held and held.group(1).startswith(reason), page.request.path
    assert 'name="send_at"' in issue.text  # a draft: any editor may schedule it again


def test_an_issue_never_held_says_nothing_of_it():
    client = staff_client(EditorIdentity(), issues=PastTimeIssue())
    for path in ("/console/newsletter", f"/console/newsletter/{UPLOAD}"):
        assert "data-held" not in client.get(path).text


@pytest.mark.parametrize(
    ("mailed", "shown"),
    [
        (
            "<h1>Summit</h1>\n<h2>Agenda</h2>\n<h3>Day one</h3>",
            "<h4>Summit</h4>\n<h5>Agenda</h5>\n<h6>Day one</h6>",
        ),
        ("<h4>Deep</h4><h6>Deeper</h6>", "<h6>Deep</h6><h6>Deeper</h6>"),  # no h7 in HTML
        # A heading's tag as the text of an attribute (a link's title, nh3 leaves its "<" bare) is text.
        (
            '<p><a href="https://a.example" title="<h1>x</h1>">a</a></p>',
            '<p><a href="https://a.example" title="<h1>x</h1>">a</a></p>',
        ),
        ("<p>&lt;h1&gt; typed</p><hr><!-- <h2> -->", "<p>&lt;h1&gt; typed</p><hr><!-- <h2> -->"),
    ],
)
def test_a_mails_headings_go_below_the_previews_heading(mailed, shown):
    assert headings_under(mailed, 3) == shown


class HeadedIssue(PastTimeIssue):
    def preview(self, token: str, texts: object) -> dict[str, object]:
        return {"en": {"subject": "Summit", "html": "<h1>Summit</h1><h2>Agenda</h2>", "text": "Summit"}}


TYPED = {"subject_en": "Summit", "body_en": "# Summit\n## Agenda"}


def test_the_preview_shows_the_mails_headings_under_its_own():
    """The page's outline: h1 the issue, h2 "Preview", h3 the mail in a language, then the mail's."""
    client = staff_client(EditorIdentity(), issues=HeadedIssue())
    for page in (
        client.get(f"/console/newsletter/{UPLOAD}").text,
        client.post(
            "/console/newsletter/previews", data={"csrf_token": csrf_token(client, "/console"), **TYPED}
        ).text,
    ):
        assert "<h4>Summit</h4><h5>Agenda</h5>" in page and "<h1>Summit" not in page
        assert re.search(r'<article [^>]*aria-labelledby="preview-en"', page)
        assert '<h3 id="preview-en">English: Summit</h3>' in page
