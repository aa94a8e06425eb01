"""Two editors' saves of one video's texts: each edit may say which texts it was typed over
(`texts_version`, from the video's detail), and one typed over texts saved since is refused under the
video's lock, changing nothing; an edit that says none saves as before. A published video's edit that
changes its texts is a VideoTextsChanged in the outbox, in the edit's transaction; other edits say nothing."""

import json
from typing import Any

import psycopg

from accounts_common.events.topics import VIDEO_EVENTS
from tests.integration.catalogue.conftest import add_video, editor, unique_word


def test_an_edit_typed_over_texts_saved_since_is_refused_and_changes_nothing(catalogue_client, media_root):
    video = add_video(catalogue_client, media_root, title=unique_word())
    path = f"/v1/videos/{video['id']}"
    opened = catalogue_client.get(path, headers=editor()).json["texts_version"]  # two editors open it

    first = catalogue_client.patch(
        path, json={"title": {"en": "First"}, "texts_version": opened}, headers=editor()
    )
    assert first.status_code == 200 and first.json["texts_version"] != opened
    second = catalogue_client.patch(
        path, json={"title": {"en": "Second"}, "tags": ["late"], "texts_version": opened}, headers=editor()
    )
    assert second.status_code == 409 and second.json["type"].endswith("/texts-changed"), second.json
    now = catalogue_client.get(path, headers=editor()).json
    assert (now["title"]["en"], now["tags"]) == ("First", first.json["tags"])  # nothing of the second
    assert now["texts_version"] == first.json["texts_version"]

    again = catalogue_client.patch(
        path, json={"title": {"en": "Second"}, "texts_version": now["texts_version"]}, headers=editor()
    )
    assert again.status_code == 200 and again.json["title"]["en"] == "Second"
    unversioned = catalogue_client.patch(path, json={"title": {"en": "Third"}}, headers=editor())
    assert unversioned.status_code == 200 and unversioned.json["title"]["en"] == "Third"
    operation = catalogue_client.get("/openapi.json").json["paths"]["/v1/videos/{video_id}"]["patch"]
    assert "texts-changed" in operation["responses"]["409"]["description"]


def video_events(catalogue_db: str, video_id: str) -> list[dict[str, Any]]:
    """The video's events in the catalogue's outbox, oldest first."""
    with psycopg.connect(catalogue_db) as conn:
        rows = conn.execute(
            "SELECT record_value FROM outbox WHERE topic = %s AND record_key = %s ORDER BY id",
            (VIDEO_EVENTS, video_id),
        ).fetchall()
    return [json.loads(value) for (value,) in rows]


def test_a_published_videos_new_texts_are_an_event_of_the_edit_and_an_unchanged_text_none(
    catalogue_client, catalogue_db, media_root
):
    word = unique_word()
    video = add_video(catalogue_client, media_root, title={"en": word, "fr": ""}, description="Words")
    path = f"/v1/videos/{video['id']}"
    [published] = video_events(catalogue_db, video["id"])
    assert published["type"] == "VideoPublished" and published["data"]["texts_revision"] == 0

    edited = catalogue_client.patch(
        path, json={"title": {"fr": f"{word} fr"}, "description": {"en": "New words"}}, headers=editor()
    )
    assert edited.status_code == 200, edited.json
    [_, changed] = video_events(catalogue_db, video["id"])
    assert changed["type"] == "VideoTextsChanged" and changed["subject"] == video["id"]
    assert changed["data"]["title"] == {"en": word, "fr": f"{word} fr"}
    assert changed["data"]["description"] == {"en": "New words", "fr": "Words"}
    assert changed["data"]["texts_revision"] > 0 and changed["data"]["video_id"] == video["id"]

    same = {"title": {"fr": f"{word} fr"}, "description": {"en": "New words"}, "tags": ["Other"]}
    assert catalogue_client.patch(path, json=same, headers=editor()).status_code == 200
    blank = catalogue_client.patch(path, json={"title": {"en": " ", "fr": ""}}, headers=editor())
    assert blank.status_code == 422, blank.json
    assert len(video_events(catalogue_db, video["id"])) == 2  # nothing changed the texts

    again = catalogue_client.patch(path, json={"description": {"fr": "Autres mots"}}, headers=editor())
    assert again.status_code == 200, again.json
    last = video_events(catalogue_db, video["id"])[-1]
    assert last["type"] == "VideoTextsChanged"
    assert last["data"]["texts_revision"] > changed["data"]["texts_revision"]
    # Its third event, numbered above the two before it: published, then retitled twice.
    revisions = [event["data"]["video_revision"] for event in video_events(catalogue_db, video["id"])]
    assert len(revisions) == 3 and revisions == sorted(set(revisions))
    assert last["data"]["description"] == {"en": "New words", "fr": "Autres mots"}


def test_an_unpublished_videos_edit_says_nothing_and_its_next_publication_carries_the_texts(
    catalogue_client, catalogue_db, media_root
):
    video = add_video(catalogue_client, media_root, title=unique_word())
    path = f"/v1/videos/{video['id']}"
    withdrawn = catalogue_client.delete(f"{path}/publication", headers=editor())
    assert withdrawn.status_code == 204
    edited = catalogue_client.patch(path, json={"title": {"en": "Renamed"}}, headers=editor())
    assert edited.status_code == 200, edited.json
    assert [event["type"] for event in video_events(catalogue_db, video["id"])] == [
        "VideoPublished",
        "VideoUnpublished",
    ]

    republished = catalogue_client.post(f"{path}/publication", headers=editor())
    assert republished.status_code == 200, republished.json
    last = video_events(catalogue_db, video["id"])[-1]
    assert last["type"] == "VideoPublished" and last["data"]["title"]["en"] == "Renamed"
    assert last["data"]["texts_revision"] > 0  # the edit's, which said nothing then
    # Every event of the video numbered after the ones before it (the edit, which said nothing, none).
    revisions = [event["data"]["video_revision"] for event in video_events(catalogue_db, video["id"])]
    assert len(revisions) == 3 and revisions == sorted(set(revisions))


def test_a_videos_events_after_a_restore_are_numbered_above_those_issued_before_it(
    catalogue_client, catalogue_db, media_root
):
    """A restore takes the catalogue's database back to an earlier point, the video's counters with it,
    while consumers keep the numbers of the events they applied since: the video's next events must
    still be numbered above those, or consumers would ignore them as stale."""
    video = add_video(catalogue_client, media_root, title=unique_word())
    path = f"/v1/videos/{video['id']}"
    with psycopg.connect(catalogue_db) as conn:  # the video as the backup holds it: just published
        backed_up = conn.execute(
            "SELECT video_revision, texts_revision FROM videos WHERE id = %s", (video["id"],)
        ).fetchone()
    for words in ("Retitled once", "Retitled twice"):  # after the backup: consumers apply these
        edited = catalogue_client.patch(path, json={"title": {"en": words}}, headers=editor())
        assert edited.status_code == 200, edited.json
    before = video_events(catalogue_db, video["id"])[-1]["data"]

    with psycopg.connect(catalogue_db) as conn:  # the restore: back to the backup's counters
        conn.execute(
            "UPDATE videos SET video_revision = %s, texts_revision = %s WHERE id = %s",
            (*backed_up, video["id"]),
        )
    edited = catalogue_client.patch(path, json={"title": {"en": "Retitled after"}}, headers=editor())
    assert edited.status_code == 200, edited.json
    assert catalogue_client.delete(f"{path}/publication", headers=editor()).status_code == 204
    [retitled, withdrawn] = [event["data"] for event in video_events(catalogue_db, video["id"])[-2:]]
    assert retitled["video_revision"] > before["video_revision"]
    assert retitled["texts_revision"] > before["texts_revision"]
    assert withdrawn["video_revision"] > retitled["video_revision"]
