"""The "New videos" draft through running processes: VideoPublished / VideoUnpublished records on the
newsletter's private copy of catalogue.video-events.v1 (each sent twice: a redelivery) are read by its
worker and gather into one draft an editor sees at GET /v1/issues, which stays a draft."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from accounts_common.events import CloudEvent, new_event
from accounts_common.events.topics import VIDEO_EVENTS
from tests.conftest import RUN_ID
from tests.e2e.conftest import Newsletter, private_newsletter
from tests.support.kafka import publish_events
from tests.support.polling import wait_for

PREFIX = f"e2e-{RUN_ID}-videos."
PORTAL_URL = "https://portal.example.org"


@pytest.fixture
def videos_newsletter(infra, tmp_path_factory) -> Iterator[Newsletter]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("newsletter-videos-logs")
    with private_newsletter(
        infra, logs, name="videos", topic_prefix=PREFIX, PORTAL_URL=PORTAL_URL
    ) as running:
        yield running


def video_event(event_type: str, video_id: uuid.UUID, **data: object) -> CloudEvent:
    now = datetime.now(UTC).isoformat()
    extra = (
        {"published_at": now, "renditions": []} if event_type == "VideoPublished" else {"unpublished_at": now}
    )
    body = {"video_id": str(video_id), **extra, **data}
    return new_event(event_type, source="/catalogue", subject=str(video_id), data=body)


def test_published_videos_gather_into_a_draft_the_editor_sees_and_nothing_is_sent(videos_newsletter, infra):
    summit, press = uuid.uuid4(), uuid.uuid4()
    publish_events(
        infra.kafka,
        PREFIX + VIDEO_EVENTS,
        [
            video_event("VideoPublished", summit, title={"en": "The summit", "fr": "Le sommet"}),
            video_event(
                "VideoPublished", press, title={"en": "Press conference", "fr": "Conférence de presse"}
            ),
            video_event("VideoUnpublished", summit),
        ],
        copies=2,  # each delivered twice: the projection counts each once
    )

    def gathered() -> dict | None:  # type: ignore[type-arg]
        status, body = videos_newsletter.editor_call("GET", "/v1/issues")
        assert status == 200, body
        drafts = [issue for issue in body["items"] if str(press) in issue["body"]["en"]]
        return drafts[0] if drafts and str(summit) not in drafts[0]["body"]["en"] else None

    draft = wait_for(gathered, timeout=60, what="the New videos draft", interval=0.2)
    assert draft["status"] == "draft" and draft["subject"] == {"en": "New videos", "fr": "Nouvelles vidéos"}
    assert draft["body"]["en"].count(f"- [Press conference]({PORTAL_URL}/videos/{press})") == 1
    assert draft["body"]["fr"].count(f"- [Conférence de presse]({PORTAL_URL}/videos/{press})") == 1
    status, issues = videos_newsletter.editor_call("GET", "/v1/issues")
    assert [issue["id"] for issue in issues["items"]] == [draft["id"]]
    assert issues["items"][0]["status"] == "draft" and issues["items"][0]["figures"]["recipients"] == 0
