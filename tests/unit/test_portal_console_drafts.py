"""The console's editors mark their forms for portal.js to keep a draft of the texts in the browser:
what is edited, and the version of its saved texts the draft is typed over (data-draft-base)."""

import re
from typing import Any

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import UPLOAD, EditorIdentity, FakeEditor, PastTimeIssue, csrf_token, staff_client
from tests.unit.test_portal_console_newsletter import NewsletterDown
from tests.unit.test_portal_console_videos import TEXTS, CatalogueDown

ISSUE_PAGE, VIDEO_PAGE = f"/console/newsletter/{UPLOAD}", f"/console/videos/{UPLOAD}"


def draft_form(page: str) -> dict[str, str] | None:
    """The data-keep-draft and data-draft-base of the page's form that keeps a draft; None without."""
    found = re.search(r'<form [^>]*data-keep-draft="([^"]*)"[^>]*data-draft-base="([^"]*)"', page)
    return {"key": found.group(1), "base": found.group(2)} if found else None


class Issue(PastTimeIssue):
    """The newsletter's issues: one, with the texts and status given; refuses a draft's texts."""

    def __init__(self, status: str = "draft", **texts: dict[str, str]) -> None:
        self.ISSUE = {**PastTimeIssue.ISSUE, "status": status, **texts}

    def update(self, token: str, issue_id: str, texts: object, read: str | None) -> dict[str, object]:
        raise ApiError(422, "validation-error", errors={"body.fr": ["Too long."]})


def issue_page(issues: object, headers: dict[str, str] | None = None) -> str:
    return str(staff_client(EditorIdentity(), issues=issues).get(ISSUE_PAGE, headers=headers).text)


def test_an_issues_draft_is_kept_under_its_id_over_its_saved_texts():
    page = issue_page(Issue())
    assert draft_form(page) == {"key": f"issue:{UPLOAD}", "base": draft_form(page)["base"]}  # type: ignore[index]
    same = draft_form(issue_page(Issue(status="draft")))
    assert same == draft_form(page), "the same saved texts: the same version"
    for changed in ({"subject": {"en": "Summit", "fr": "Sommet !"}}, {"body": {"en": "Text", "fr": ""}}):
        other = draft_form(issue_page(Issue(**changed)))
        assert other and other["base"] != draft_form(page)["base"], changed  # type: ignore[index]


def test_a_refused_save_keeps_the_version_of_the_saved_texts_not_of_the_text_typed():
    # The typed text is on the page again; a draft of it must still go back over the saved texts.
    client = staff_client(EditorIdentity(), issues=Issue())
    shown = draft_form(client.get(ISSUE_PAGE).text)
    assert shown
    form = {"csrf_token": csrf_token(client, ISSUE_PAGE), "subject_en": "Other", "body_fr": "Autre",
            "action": "save"}  # fmt: skip
    refused = client.post(ISSUE_PAGE, data=form)
    assert refused.status_code == 400 and 'value="Other"' in refused.text
    assert draft_form(refused.text) == shown
    previewed = client.post(ISSUE_PAGE, data={**form, "action": "preview"})
    assert draft_form(previewed.text) == shown


@pytest.mark.parametrize("status", ["scheduled", "sent", "cancelled"])
def test_an_issue_that_can_no_longer_be_changed_keeps_no_draft(status):
    assert draft_form(issue_page(Issue(status=status))) is None


def test_a_new_issue_and_one_saved_while_the_newsletter_is_down_keep_no_draft():
    client = staff_client(EditorIdentity(), issues=NewsletterDown())
    assert draft_form(client.get("/console/newsletter/new").text) is None
    token = csrf_token(client, "/console/newsletter/new")
    down = client.post(ISSUE_PAGE, data={"csrf_token": token, "subject_en": "News", "action": "save"})
    assert down.status_code == 503 and draft_form(down.text) is None


def test_the_notice_of_a_draft_put_back_is_in_the_editors_language_with_its_live_region_empty_until_then():
    """The live region is in the page from the start, not hidden: portal.js puts the text into it."""
    page = issue_page(Issue(), headers={"Accept-Language": "fr"})
    notice = re.search(
        r"<form [^>]*data-keep-draft.*?(<div [^>]*data-draft-notice[^>]*>)(.*?)</div>", page, re.S
    )
    assert notice, "the notice is not inside the form"
    assert " hidden" not in notice.group(1) and 'role="status"' not in notice.group(1)
    assert notice.group(2) == '<p aria-live="polite"></p>'
    assert 'data-text-restored="Le texte que vous aviez saisi ici sans l’enregistrer est de retour.' in page
    assert 'data-text-discard="L’abandonner et afficher le texte enregistré"' in page


class Video(FakeEditor):
    """The catalogue's editor API: one video, with the status and texts given."""

    def __init__(self, status: str = "ready", **texts: dict[str, str]) -> None:
        super().__init__()
        self.VIDEO = {**FakeEditor.VIDEO, "status": status, **texts}


def video_page(editor: object) -> str:
    return str(staff_client(EditorIdentity(), editor=editor).get(VIDEO_PAGE).text)


def test_a_videos_draft_is_kept_over_its_saved_texts_whatever_its_transcoding_does():
    ready = draft_form(video_page(Video()))
    assert ready and ready["key"] == f"video:{UPLOAD}"
    assert draft_form(video_page(Video(status="published"))) == ready
    retitled = draft_form(video_page(Video(title={"en": "Exercise", "fr": "Exercice 2"})))
    assert retitled and retitled["base"] != ready["base"]


def test_video_texts_saved_while_the_catalogue_is_down_keep_no_draft():
    client = staff_client(EditorIdentity(), editor=CatalogueDown())
    down = client.post(VIDEO_PAGE, data={"csrf_token": csrf_token(client, "/console"), **TEXTS})
    assert down.status_code == 503 and draft_form(down.text) is None


class EditorWithoutSecondFactor(EditorIdentity):
    def me(self, token: str) -> dict[str, object]:
        return {**super().me(token), "second_factor": False}


@pytest.mark.parametrize(("identity", "forms"), [(EditorIdentity(), 1), (EditorWithoutSecondFactor(), 2)])
def test_every_logout_form_forgets_the_drafts(identity, forms):
    # The menu's, and the second factor page's "Log out, then log in with the code".
    page: Any = staff_client(identity).get("/console")
    logouts = re.findall(r'<form method="post" action="/logout"[^>]*>', page.text)
    assert len(logouts) == forms and all("data-forget-drafts" in form for form in logouts)


class Deletion(EditorIdentity):
    """Identity deleting the account for the password "right" only."""

    def delete_account(self, token: str, password: str) -> None:
        if password != "right":
            raise ApiError(403, "wrong-password")


def test_the_drafts_are_forgotten_by_the_page_after_the_accounts_deletion_not_by_its_form():
    """The deletion ends the session in this browser too (a shared computer): its drafts go with it,
    once it has happened. Its form is refused when the password is wrong, the account staying."""
    client = staff_client(Deletion())
    page: Any = client.get("/account")
    [deletion] = re.findall(r'<form method="post" action="/account/delete"[^>]*>', page.text)
    assert "data-forget-drafts" not in deletion
    token = csrf_token(client, "/account")
    refused = client.post("/account/delete", data={"csrf_token": token, "delete_password": "wrong"})
    assert refused.status_code == 400 and "data-forget-drafts-now" not in refused.text
    deleted = client.post("/account/delete", data={"csrf_token": token, "delete_password": "right"})
    after: Any = client.get(deleted.headers["Location"])
    assert re.search(r'<div class="notice" role="status"[^>]* data-forget-drafts-now>', after.text)
    assert "Your account has been deleted." in after.text
    assert "data-forget-drafts-now" not in client.get("/").text, "once"
