"""The "New videos" draft against PostgreSQL: the catalogue's VideoPublished / VideoUnpublished, handled
as the newsletter worker's consumer handles them (its inbox included), gather into one draft an editor
edits and sends through the API; nothing ever leaves by itself. A VideoTextsChanged retitles a video's
line in the open draft, and an older event arriving late never brings an old title back, nor an older
publication a withdrawn video."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest

from accounts_common.consumer import EventConsumer
from accounts_common.events import CloudEvent, new_event
from newsletter.domain.new_videos import SECTION_END
from newsletter.service_layer.new_videos import video_event_handlers

PORTAL = "http://127.0.0.1:8000"  # the settings' default PORTAL_URL, which the newsletter fixture keeps


@pytest.fixture
def consume(newsletter) -> Iterator:  # type: ignore[no-untyped-def, type-arg]
    """Handle an event as the worker's consumer does: validated, once per event id (the inbox)."""
    consumer = EventConsumer(
        group=f"newsletter-new-videos-{uuid.uuid4().hex[:8]}",
        topics=(),
        handlers=video_event_handlers(newsletter),
        pool=newsletter.pool,
        bootstrap_servers=newsletter.settings.kafka_bootstrap_servers,
    )
    yield lambda event: consumer.process(SimpleNamespace(value=event.to_json().encode()))


@pytest.fixture(autouse=True)
def no_open_draft(newsletter_db: str) -> Iterator[None]:
    """Each test starts with no open "New videos" draft (one of another test's would take the videos),
    and leaves none behind, nor a scheduled one."""

    def cancel() -> None:
        with psycopg.connect(newsletter_db) as conn:
            conn.execute(
                """UPDATE issues SET status = 'cancelled'
                   WHERE origin = 'new_videos' AND status IN ('draft', 'scheduled')"""
            )

    cancel()
    yield
    cancel()


def published(
    video_id: uuid.UUID, en: str, fr: str, revision: int | None = None, video_revision: int | None = None
) -> CloudEvent:
    data = {
        "video_id": str(video_id),
        "title": {"en": en, "fr": fr},
        "published_at": datetime.now(UTC).isoformat(),
        "renditions": [],
    } | ({} if revision is None else {"texts_revision": revision})
    return video_event("VideoPublished", video_id, data, video_revision)


def texts_changed(
    video_id: uuid.UUID, en: str, fr: str, revision: int, video_revision: int | None = None
) -> CloudEvent:
    data = {
        "video_id": str(video_id),
        "title": {"en": en, "fr": fr},
        "description": {"en": "", "fr": ""},
        "texts_revision": revision,
        "changed_at": datetime.now(UTC).isoformat(),
    }
    return video_event("VideoTextsChanged", video_id, data, video_revision)


def unpublished(video_id: uuid.UUID, video_revision: int | None = None) -> CloudEvent:
    data = {"video_id": str(video_id), "unpublished_at": datetime.now(UTC).isoformat()}
    return video_event("VideoUnpublished", video_id, data, video_revision)


def video_event(kind: str, video_id: uuid.UUID, data: dict, video_revision: int | None) -> CloudEvent:  # type: ignore[type-arg]
    """The catalogue's event; numbered when `video_revision` is given (else as written before it was)."""
    numbered = data if video_revision is None else {**data, "video_revision": video_revision}
    return new_event(kind, source="/catalogue", subject=str(video_id), data=numbered)


def new_videos_drafts(client, editor: dict[str, str]) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    listed = client.get("/v1/issues", headers=editor)
    assert listed.status_code == 200, listed.json
    return [
        issue
        for issue in listed.json["items"]
        if issue["status"] == "draft" and issue["subject"] == {"en": "New videos", "fr": "Nouvelles vidéos"}
    ]


def test_published_videos_gather_into_one_draft_in_both_languages_once_each(
    consume, newsletter_client, newsletter_editor
):
    summit, press = uuid.uuid4(), uuid.uuid4()
    first = published(summit, "The summit", "Le sommet")
    consume(first)
    consume(published(press, "Press conference", ""))
    consume(first)  # redelivered
    [draft] = new_videos_drafts(newsletter_client, newsletter_editor)
    assert draft["body"]["en"].count(f"- [The summit]({PORTAL}/videos/{summit})") == 1
    assert draft["body"]["fr"].count(f"- [Le sommet]({PORTAL}/videos/{summit})") == 1
    assert f"- [Press conference]({PORTAL}/videos/{press})" in draft["body"]["fr"]  # no French title yet
    assert draft["body"]["en"].index(str(summit)) < draft["body"]["en"].index(str(press))
    assert draft["figures"]["recipients"] == 0
    texts = {"subject": draft["subject"], "body": draft["body"]}
    preview = newsletter_client.post("/v1/issues/preview", json=texts, headers=newsletter_editor)
    assert preview.status_code == 200, preview.json
    assert "[//]" not in str(preview.json)


def test_the_editors_rewrite_stays_while_videos_come_and_go(consume, newsletter_client, newsletter_editor):
    summit, press, archive = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    consume(published(summit, "The summit", "Le sommet"))
    consume(published(press, "Press conference", "Conférence de presse"))
    [draft] = new_videos_drafts(newsletter_client, newsletter_editor)
    rewritten = {
        "subject": {"en": "December's videos", "fr": "Les vidéos de décembre"},
        "body": {
            language: "# Hello\n\n"
            + body.replace(SECTION_END, f"- An old favourite\n\n{SECTION_END}")
            + "\nBye.\n"
            for language, body in draft["body"].items()
        },
    }
    edited = newsletter_client.put(f"/v1/issues/{draft['id']}", json=rewritten, headers=newsletter_editor)
    assert edited.status_code == 200, edited.json

    consume(unpublished(summit))
    consume(published(archive, "From the archive", "Des archives"))
    consume(unpublished(uuid.uuid4()))  # never listed: nothing changes

    now = newsletter_client.get(f"/v1/issues/{draft['id']}", headers=newsletter_editor).json
    assert now["status"] == "draft" and now["subject"] == rewritten["subject"]
    for language, title in (("en", "From the archive"), ("fr", "Des archives")):
        body = now["body"][language]
        assert body.startswith("# Hello\n\n") and body.endswith("Bye.\n")
        assert str(summit) not in body and f"/videos/{press})" in body
        assert body.index("An old favourite") < body.index(f"- [{title}]({PORTAL}/videos/{archive})")


def test_once_the_draft_is_scheduled_or_cancelled_the_next_video_opens_a_new_one(
    consume, newsletter_client, newsletter_editor
):
    summit, press, archive = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    consume(published(summit, "The summit", "Le sommet"))
    [first] = new_videos_drafts(newsletter_client, newsletter_editor)
    # Scheduled far ahead rather than sent now: another module's fan-out worker shares the database.
    later = {"send_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    scheduled = newsletter_client.post(
        f"/v1/issues/{first['id']}/send", json=later, headers=newsletter_editor
    )
    assert scheduled.status_code == 202 and scheduled.json["status"] == "scheduled", scheduled.json

    consume(published(press, "Press conference", "Conférence de presse"))
    consume(unpublished(summit))  # in an issue that is no longer a draft: left as it is
    [second] = new_videos_drafts(newsletter_client, newsletter_editor)
    assert second["id"] != first["id"]
    assert str(press) in second["body"]["en"] and str(summit) not in second["body"]["en"]
    went = newsletter_client.get(f"/v1/issues/{first['id']}", headers=newsletter_editor).json
    assert went["body"] == first["body"] and str(press) not in went["body"]["en"]

    cancelled = newsletter_client.post(f"/v1/issues/{second['id']}/cancel", headers=newsletter_editor)
    assert cancelled.status_code == 200, cancelled.json
    consume(published(archive, "From the archive", "Des archives"))
    [third] = new_videos_drafts(newsletter_client, newsletter_editor)
    assert third["id"] not in (first["id"], second["id"]) and str(press) not in third["body"]["fr"]


def test_a_new_title_reaches_the_draft_and_an_older_event_arriving_late_changes_nothing(
    consume, newsletter_client, newsletter_editor
):
    summit, press = uuid.uuid4(), uuid.uuid4()
    consume(published(summit, "Summit", "Sommet", revision=0))
    consume(published(press, "Press conference", "Conférence de presse"))  # an older event: no revision
    consume(texts_changed(summit, "The summit", "", revision=2))  # no French title any more
    [draft] = new_videos_drafts(newsletter_client, newsletter_editor)
    for language in ("en", "fr"):
        body = draft["body"][language]
        assert body.count(f"/videos/{summit})") == 1 and f"- [The summit]({PORTAL}/videos/{summit})" in body
        assert "Sommet" not in body and "[Summit]" not in body and f"/videos/{press})" in body

    consume(texts_changed(summit, "Older title", "Ancien titre", revision=1))  # replayed late
    consume(texts_changed(summit, "Same revision", "Même révision", revision=2))  # the same revision again
    consume(unpublished(summit))
    consume(published(summit, "Summit", "Sommet", revision=0))  # unnumbered: followed as it comes
    [now] = new_videos_drafts(newsletter_client, newsletter_editor)
    assert now["id"] == draft["id"]
    for language in ("en", "fr"):
        assert f"- [The summit]({PORTAL}/videos/{summit})" in now["body"][language]
        for stale in ("Older title", "Ancien titre", "Same revision", "Même révision"):
            assert stale not in now["body"][language]
    consume(texts_changed(press, "Press briefing", "Point de presse", revision=1))
    [last] = new_videos_drafts(newsletter_client, newsletter_editor)
    assert f"- [Point de presse]({PORTAL}/videos/{press})" in last["body"]["fr"]


def test_an_editors_rewording_stays_and_an_issue_no_longer_a_draft_keeps_what_it_said(
    consume, newsletter_client, newsletter_editor
):
    summit = uuid.uuid4()
    consume(published(summit, "Summit", "Sommet", revision=0))
    [draft] = new_videos_drafts(newsletter_client, newsletter_editor)
    reworded = {
        "subject": draft["subject"],
        "body": {**draft["body"], "en": draft["body"]["en"].replace("[Summit]", "[Our summit, in full]")},
    }
    edited = newsletter_client.put(f"/v1/issues/{draft['id']}", json=reworded, headers=newsletter_editor)
    assert edited.status_code == 200, edited.json
    consume(texts_changed(summit, "The summit", "Le sommet", revision=1))
    now = newsletter_client.get(f"/v1/issues/{draft['id']}", headers=newsletter_editor).json
    assert f"- [Our summit, in full]({PORTAL}/videos/{summit})" in now["body"]["en"]
    assert f"- [Le sommet]({PORTAL}/videos/{summit})" in now["body"]["fr"]

    later = {"send_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    scheduled = newsletter_client.post(
        f"/v1/issues/{draft['id']}/send", json=later, headers=newsletter_editor
    )
    assert scheduled.status_code == 202, scheduled.json
    consume(texts_changed(summit, "Summit again", "Encore le sommet", revision=2))
    went = newsletter_client.get(f"/v1/issues/{draft['id']}", headers=newsletter_editor).json
    assert went["body"] == now["body"]
    assert new_videos_drafts(newsletter_client, newsletter_editor) == []  # a retitle opens no draft


def test_a_publication_arriving_after_a_later_withdrawal_or_again_leaves_the_draft_as_the_newest_says(
    consume, newsletter_client, newsletter_editor
):
    summit = uuid.uuid4()

    def listed() -> list[str]:
        """The video's lines in the open draft, in English."""
        drafts = new_videos_drafts(newsletter_client, newsletter_editor)
        lines = drafts[0]["body"]["en"].splitlines() if drafts else []
        return [line for line in lines if f"/videos/{summit})" in line]

    # Published (1), retitled (2), withdrawn (3): the withdrawal comes first, the others late.
    consume(unpublished(summit, video_revision=3))
    consume(published(summit, "Summit", "Sommet", revision=0, video_revision=1))
    consume(texts_changed(summit, "The summit", "Le sommet", revision=1, video_revision=2))
    assert listed() == []
    # Published again (4); its older publication and withdrawal, arriving late again, change nothing.
    consume(published(summit, "The summit", "Le sommet", revision=1, video_revision=4))
    consume(unpublished(summit, video_revision=3))
    consume(published(summit, "Summit", "Sommet", revision=0, video_revision=1))
    assert listed() == [f"- [The summit]({PORTAL}/videos/{summit})"]
    # Retitled (5) and withdrawn (6); then publication 4 again (a dead letter replayed): still out.
    consume(texts_changed(summit, "Summit, day two", "Sommet, jour deux", revision=2, video_revision=5))
    consume(unpublished(summit, video_revision=6))
    consume(published(summit, "The summit", "Le sommet", revision=1, video_revision=4))
    assert listed() == []
    # Published again (7): listed again.
    consume(published(summit, "Summit, day two", "Sommet, jour deux", revision=2, video_revision=7))
    assert listed() == [f"- [Summit, day two]({PORTAL}/videos/{summit})"]


def test_an_unnumbered_event_arriving_after_a_numbered_one_changes_nothing(
    consume, newsletter_client, newsletter_editor
):
    """Events written before the catalogue numbered them are older than any numbered one of the video:
    an old publication replayed after a numbered withdrawal does not list the video again, nor an old
    withdrawal replayed after a numbered publication take it out."""
    summit, press = uuid.uuid4(), uuid.uuid4()

    def listed(video_id: uuid.UUID) -> list[str]:
        drafts = new_videos_drafts(newsletter_client, newsletter_editor)
        lines = drafts[0]["body"]["en"].splitlines() if drafts else []
        return [line for line in lines if f"/videos/{video_id})" in line]

    consume(published(summit, "Summit", "Sommet"))  # before the numbering: followed as it comes
    assert listed(summit) == [f"- [Summit]({PORTAL}/videos/{summit})"]
    consume(unpublished(summit, video_revision=5))
    consume(published(summit, "Summit", "Sommet"))  # an older one, dead-lettered then, replayed now
    assert listed(summit) == []

    consume(published(press, "Press", "Presse", revision=0, video_revision=8))
    consume(unpublished(press))  # an old withdrawal, replayed
    assert listed(press) == [f"- [Press]({PORTAL}/videos/{press})"]
