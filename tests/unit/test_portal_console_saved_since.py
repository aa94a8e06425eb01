"""Two editors (or two tabs, or the "New videos" worker) on one issue in the console: a save names the
copy it was typed over; when another save came first, the editor's text stays on the page, with what
happened and what to do, and saving again then replaces that save knowingly."""

import re

from portal.adapters.http import ApiError
from tests.unit.test_portal import UPLOAD, EditorIdentity, PastTimeIssue, csrf_token, staff_client
from tests.unit.test_portal_console_drafts import draft_form

PAGE = f"/console/newsletter/{UPLOAD}"
OPENED = str(PastTimeIssue.ISSUE["updated_at"])
TYPED = {"subject_en": "Summit", "subject_fr": "Sommet", "body_en": "My text", "body_fr": "Mon texte"}


class SavedMeanwhile(PastTimeIssue):
    """The newsletter's issue, saved by another editor once this one has opened it: it refuses a save
    over an older copy (409 issue-changed), as the newsletter does, and records each copy named."""

    SAVED = {**PastTimeIssue.ISSUE, "subject": {"en": "Summit!", "fr": "Sommet !"},
             "updated_at": "2026-12-01T10:05:00.654321+00:00"}  # fmt: skip

    def __init__(self) -> None:
        self.ISSUE = PastTimeIssue.ISSUE
        self.reads: list[str | None] = []

    def update(
        self, token: str, issue_id: str, texts: dict[str, object], read: str | None
    ) -> dict[str, object]:
        self.reads.append(read)
        if read not in (None, self.ISSUE["updated_at"]):
            raise ApiError(409, "issue-changed", "The issue was edited since the copy you read.")
        self.ISSUE = {**self.ISSUE, **texts, "updated_at": "2026-12-01T10:09:00.000001+00:00"}
        return self.ISSUE


def copy_read(page: str) -> str | None:
    """The updated_at the editor's form sends with a save: of the copy its texts were typed over."""
    form = re.search(r"<form [^>]*data-live-preview.*?</form>", page, re.S)
    assert form, "the page has no editor's form"
    found = re.search(r'<input type="hidden" name="updated_at" value="([^"]*)">', form.group(0))
    return found.group(1) if found else None


def saved_meanwhile() -> tuple[object, SavedMeanwhile, str]:
    """An editor's client on the issue's page, the issue then saved by another; the copy it opened."""
    issues = SavedMeanwhile()
    client = staff_client(EditorIdentity(), issues=issues)
    opened = client.get(PAGE).text
    issues.ISSUE = SavedMeanwhile.SAVED
    return client, issues, opened


def test_a_save_over_a_copy_saved_since_keeps_the_text_typed_says_so_and_a_second_save_replaces_it():
    client, issues, opened = saved_meanwhile()
    assert copy_read(opened) == OPENED
    form = {"csrf_token": csrf_token(client, PAGE), **TYPED, "updated_at": OPENED, "action": "save"}

    refused = client.post(PAGE, data=form, headers={"Accept-Language": "fr"})  # type: ignore[attr-defined]
    assert refused.status_code == 400 and issues.reads == [OPENED]
    assert 'value="Summit"' in refused.text and "Mon texte</textarea>" in refused.text, "the text typed stays"
    summary = re.search(r"<div class=\"error-summary\"[^>]*>(.*?)</div>", refused.text, re.S)
    assert summary and "Ce numéro a été enregistré à nouveau après que vous l’avez ouvert" in summary.group(1)
    link = re.search(
        r'<a href="([^"]*)" target="_blank" rel="noopener">Voir le numéro tel qu’il est', summary.group(1)
    )
    assert link and link.group(1) == f"{PAGE}?as=saved"
    assert copy_read(refused.text) == SavedMeanwhile.SAVED["updated_at"], "saving again replaces that copy"

    again = client.post(PAGE, data={**form, "updated_at": copy_read(refused.text)})  # type: ignore[attr-defined]
    assert again.status_code == 303 and issues.reads == [OPENED, SavedMeanwhile.SAVED["updated_at"]]
    assert issues.ISSUE["subject"] == {"en": "Summit", "fr": "Sommet"}


def test_the_message_in_english_says_the_text_is_not_saved_and_what_to_do():
    client, _, _ = saved_meanwhile()
    form = {"csrf_token": csrf_token(client, PAGE), **TYPED, "updated_at": OPENED, "action": "save"}
    refused = client.post(PAGE, data=form).text  # type: ignore[attr-defined]
    assert "This issue was saved again after you opened it" in refused
    assert "Your text below is not saved yet: compare it with the issue as saved" in refused
    assert "See the issue as saved (in a new tab)" in refused


def test_after_a_save_refused_so_the_browsers_draft_is_over_the_copy_a_lost_session_comes_back_to():
    """The text typed on the refused page is kept in the browser over the newer copy: after a session
    that ended meanwhile, the issue's page is that copy, and the text is put back over it."""
    client, _, opened = saved_meanwhile()
    form = {"csrf_token": csrf_token(client, PAGE), **TYPED, "updated_at": OPENED, "action": "save"}
    refused = client.post(PAGE, data=form).text  # type: ignore[attr-defined]
    back = client.get(PAGE).text  # type: ignore[attr-defined]
    assert draft_form(refused) == draft_form(back) and draft_form(back) != draft_form(opened)


def test_the_issue_opened_as_saved_beside_it_shows_the_saved_texts_and_keeps_no_draft():
    """Keeping a draft there would put the editor's own text back over the saved one they compare."""
    client, _, _ = saved_meanwhile()
    saved = client.get(f"{PAGE}?as=saved").text  # type: ignore[attr-defined]
    assert draft_form(saved) is None and 'value="Summit!"' in saved
    assert copy_read(saved) == SavedMeanwhile.SAVED["updated_at"]


def test_a_preview_and_a_save_refused_for_its_text_keep_the_copy_the_text_was_typed_over():
    """Neither is the editor reading the newer copy: a save after them must still be checked."""
    client, issues, _ = saved_meanwhile()
    form = {"csrf_token": csrf_token(client, PAGE), **TYPED, "updated_at": OPENED}
    previewed = client.post(PAGE, data={**form, "action": "preview"})  # type: ignore[attr-defined]
    assert previewed.status_code == 200 and issues.reads == [] and copy_read(previewed.text) == OPENED

    def refuse_text(token: str, issue_id: str, texts: object, read: str | None) -> dict[str, object]:
        raise ApiError(422, "validation-error", errors={"body.fr": ["Too long."]})

    issues.update = refuse_text  # type: ignore[method-assign]
    refused = client.post(PAGE, data={**form, "action": "save"})  # type: ignore[attr-defined]
    assert refused.status_code == 400 and copy_read(refused.text) == OPENED


def test_a_form_from_before_the_copy_was_named_saves_as_it_always_did():
    """A page opened before a deploy sends no updated_at: its save names no copy (the newsletter then
    replaces the texts), and its preview does not name one it never showed."""
    client, issues, _ = saved_meanwhile()
    form = {"csrf_token": csrf_token(client, PAGE), **TYPED}
    previewed = client.post(PAGE, data={**form, "action": "preview"})  # type: ignore[attr-defined]
    assert copy_read(previewed.text) == ""
    saved = client.post(PAGE, data={**form, "action": "save"})  # type: ignore[attr-defined]
    assert saved.status_code == 303 and issues.reads == [None]


class PreviewedSavedMeanwhile(SavedMeanwhile):
    """As SavedMeanwhile, with the newsletter's preview of the texts it is given."""

    def preview(self, token: str, texts: dict[str, dict[str, str]]) -> dict[str, object]:
        return {language: {"subject": subject, "html": f"<p>{texts['body'][language]}</p>", "text": ""}
                for language, subject in texts["subject"].items()}  # fmt: skip


def test_a_refused_save_previews_the_text_kept_on_the_page_not_an_empty_form():
    """The editor is asked to compare their text with the issue as saved: the preview beside it is of
    that text, not "Write a subject and a text" next to the text they wrote."""
    issues = PreviewedSavedMeanwhile()
    client = staff_client(EditorIdentity(), issues=issues)
    client.get(PAGE)
    issues.ISSUE = SavedMeanwhile.SAVED
    form = {"csrf_token": csrf_token(client, PAGE), **TYPED, "updated_at": OPENED, "action": "save"}
    refused = client.post(PAGE, data=form)
    assert refused.status_code == 400
    preview = re.search(r'<div id="issue-preview".*?</section>', refused.text, re.S)
    assert preview and "Write a subject and a text" not in preview.group(0)
    assert "<p>My text</p>" in preview.group(0) and "<p>Mon texte</p>" in preview.group(0)
