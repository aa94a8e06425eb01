"""Two editors (or two tabs, or the "New videos" worker) on one issue: what goes is what was confirmed."""

import uuid

from tests.integration.test_newsletter_issues import ISSUE, create
from tests.integration.test_newsletter_new_videos import (  # noqa: F401 # fixtures shared with it
    consume,
    new_videos_drafts,
    no_open_draft,
    published,
)


def test_a_send_confirmed_on_a_copy_read_before_an_edit_is_refused_and_nothing_goes(
    newsletter_client, newsletter_editor
):
    """The console asks to confirm the issue as it shows it; another editor saves a half-written text
    before the click: sending it would mail every subscriber a text nobody confirmed."""
    read = create(newsletter_client, newsletter_editor)
    half_written = {**ISSUE, "body": {**ISSUE["body"], "en": "Half-written, do not"}}
    saved = newsletter_client.put(f"/v1/issues/{read['id']}", json=half_written, headers=newsletter_editor)
    assert saved.status_code == 200 and saved.json["updated_at"] > read["updated_at"]

    refused = newsletter_client.post(
        f"/v1/issues/{read['id']}/send", json={"updated_at": read["updated_at"]}, headers=newsletter_editor
    )
    assert refused.status_code == 409 and refused.json["type"].endswith("/issue-changed"), refused.json
    current = newsletter_client.get(f"/v1/issues/{read['id']}", headers=newsletter_editor).json
    assert current["status"] == "draft"

    sent = newsletter_client.post(
        f"/v1/issues/{read['id']}/send", json={"updated_at": current["updated_at"]}, headers=newsletter_editor
    )
    assert sent.status_code == 202 and sent.json["status"] == "sending", sent.json


def rewrite(client, editor: dict[str, str], issue_id: str, texts: dict, **read: str):  # type: ignore[no-untyped-def, type-arg]
    return client.put(f"/v1/issues/{issue_id}", json={**texts, **read}, headers=editor)


def test_a_save_over_a_copy_read_before_another_save_is_refused_and_writes_nothing(
    newsletter_client, newsletter_editor
):
    """Two editors opened the issue; the first saves: the second's save would wipe it unseen."""
    read = create(newsletter_client, newsletter_editor)
    first = {**ISSUE, "subject": {**ISSUE["subject"], "en": "First editor's subject"}}
    saved = rewrite(newsletter_client, newsletter_editor, read["id"], first, updated_at=read["updated_at"])
    assert saved.status_code == 200 and saved.json["updated_at"] > read["updated_at"], saved.json

    second = {**ISSUE, "body": {**ISSUE["body"], "fr": "Le texte du second"}}
    refused = rewrite(newsletter_client, newsletter_editor, read["id"], second, updated_at=read["updated_at"])
    assert refused.status_code == 409 and refused.json["type"].endswith("/issue-changed"), refused.json
    current = newsletter_client.get(f"/v1/issues/{read['id']}", headers=newsletter_editor).json
    assert (current["subject"], current["body"]) == (first["subject"], first["body"])
    assert current["updated_at"] == saved.json["updated_at"]

    replaced = rewrite(
        newsletter_client, newsletter_editor, read["id"], second, updated_at=current["updated_at"]
    )
    assert replaced.status_code == 200 and replaced.json["body"] == second["body"], replaced.json


def test_a_save_sent_twice_is_taken_twice_not_refused_as_someone_elses(newsletter_client, newsletter_editor):
    """A double click on Save (or two editors typing the same fix): the second save, over the copy read
    before the first, finds the issue already holding its texts. Nothing of anyone's would be wiped: it
    is taken, and the editor is not told their text is not saved when it is."""
    read = create(newsletter_client, newsletter_editor)
    fixed = {**ISSUE, "subject": {**ISSUE["subject"], "fr": "Le sommet, corrigé"}}
    first = rewrite(newsletter_client, newsletter_editor, read["id"], fixed, updated_at=read["updated_at"])
    assert first.status_code == 200, first.json
    again = rewrite(newsletter_client, newsletter_editor, read["id"], fixed, updated_at=read["updated_at"])
    assert again.status_code == 200, again.json
    assert (again.json["subject"], again.json["updated_at"]) == (fixed["subject"], first.json["updated_at"])


def test_a_save_without_the_copy_read_replaces_the_texts_as_before(newsletter_client, newsletter_editor):
    """An older console, during a rolling deploy, names no copy: its save is taken as it always was."""
    read = create(newsletter_client, newsletter_editor)
    meanwhile = {**ISSUE, "subject": {**ISSUE["subject"], "fr": "Entre-temps"}}
    assert rewrite(newsletter_client, newsletter_editor, read["id"], meanwhile).status_code == 200
    older = {**ISSUE, "body": {**ISSUE["body"], "en": "An older console's text"}}
    saved = rewrite(newsletter_client, newsletter_editor, read["id"], older)
    assert saved.status_code == 200 and saved.json["body"] == older["body"], saved.json


def test_a_new_video_listed_meanwhile_makes_the_editors_save_over_the_older_copy_a_conflict(
    consume,  # noqa: F811
    newsletter_client,
    newsletter_editor,
):
    """The New videos worker adds a line to the draft the editor has open: their save must not drop it."""
    consume(published(uuid.uuid4(), "The summit", "Le sommet"))
    [read] = new_videos_drafts(newsletter_client, newsletter_editor)
    archive = uuid.uuid4()
    consume(published(archive, "From the archive", "Des archives"))

    rewritten = {
        "subject": read["subject"],
        "body": {**read["body"], "en": "# Hello\n\n" + read["body"]["en"]},
    }
    refused = rewrite(
        newsletter_client, newsletter_editor, read["id"], rewritten, updated_at=read["updated_at"]
    )
    assert refused.status_code == 409 and refused.json["type"].endswith("/issue-changed"), refused.json
    current = newsletter_client.get(f"/v1/issues/{read['id']}", headers=newsletter_editor).json
    assert str(archive) in current["body"]["en"] and not current["body"]["en"].startswith("# Hello")
