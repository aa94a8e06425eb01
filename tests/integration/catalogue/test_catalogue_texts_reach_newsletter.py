"""An editor's new title for a published video reaches the newsletter's "New videos" draft through the
real chain: the catalogue's edit and its outbox in PostgreSQL, the catalogue's relay, Kafka, the
newsletter worker's consumer and its database. An unpublished video's edit sends nothing; a malformed
VideoTextsChanged is dead-lettered with the reason, and an older one arriving late changes nothing.
A withdrawn video's VideoPublished replayed from the dead letters after its VideoUnpublished leaves it
out of the draft.

The catalogue has a database of its own here (its relay publishes every pending row it finds), and the
relay and the consumer private copies of the topics."""

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from accounts_common import dlq
from accounts_common.consumer import EventConsumer
from accounts_common.events import CloudEvent, Topic, dead_letter_topic
from accounts_common.events.topics import OPERATOR_ACTIONS, VIDEO_EVENTS
from accounts_common.inbox import Handler
from accounts_common.relay import OutboxRelay
from accounts_common.retry_policy import PermanentError
from catalogue.migrations import CATALOGUE_MIGRATIONS
from newsletter.service_layer.new_videos import video_event_handlers
from tests.conftest import RUN_ID, Infra, database_fixtures, fresh_topics
from tests.integration.catalogue.conftest import add_video, editor, unique_word
from tests.integration.catalogue.test_catalogue_edits import video_events
from tests.integration.test_newsletter_new_videos import (
    PORTAL,
    new_videos_drafts,
    no_open_draft,  # noqa: F401 - the autouse fixture: no other test's open draft takes the videos
    published,
    texts_changed,
)
from tests.integration.test_outbox_and_consumer import dead_letter_reasons, send_raw
from tests.support.kafka import TopicReader
from tests.support.polling import wait_for
from tests.support.workers import running

catalogue_db, catalogue_pool = database_fixtures(
    "catalogue", CATALOGUE_MIGRATIONS, scope="module", database="test_catalogue_texts_events"
)


@dataclass(frozen=True)
class Chain:
    topic: str  # the private copy of catalogue.video-events.v1
    group: str  # the consumer's
    records: TopicReader  # everything written to it, from before the relay started
    dead_letters: TopicReader  # the consumer's
    refused: set[str]  # the English titles of the VideoPublished the consumer fails on for good (a bug)


@pytest.fixture
def chain(infra: Infra, catalogue_db: str, newsletter) -> Iterator[Chain]:  # type: ignore[no-untyped-def]
    """The catalogue's relay and the newsletter's video events consumer, running on private topics."""
    prefix = f"test-{RUN_ID}-texts-{uuid.uuid4().hex[:6]}."
    group = f"test-newsletter-texts-{uuid.uuid4().hex[:8]}"
    topic = prefix + VIDEO_EVENTS
    fresh_topics(
        infra,
        Topic(topic, partitions=3),
        Topic(prefix + OPERATOR_ACTIONS, partitions=1),
        Topic(dead_letter_topic(group), partitions=1),
    )
    relay = OutboxRelay(catalogue_db, infra.kafka, client_id="test-texts-relay", topic_prefix=prefix)
    refused: set[str] = set()
    handlers = video_event_handlers(newsletter)
    consumer = EventConsumer(
        group=group,
        topics=(topic,),
        handlers={**handlers, "VideoPublished": refusing(handlers["VideoPublished"], refused)},
        pool=newsletter.pool,
        bootstrap_servers=infra.kafka,
        max_backoff=0.5,
    )
    records, dead_letters = (
        TopicReader(infra.kafka, topic),
        TopicReader(infra.kafka, dead_letter_topic(group)),
    )
    with closing(records), closing(dead_letters), running(relay.run), running(consumer.run):
        yield Chain(topic, group, records, dead_letters, refused)


def refusing(handler: Handler, refused: set[str]) -> Handler:
    """The handler, but failing for good (dead-lettered at once) on a video titled as one of `refused`."""

    def handle(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        if data["title"]["en"] in refused:
            raise PermanentError("a bug of this build")
        handler(conn, event, data)

    return handle


def draft_line(client, editor_header: dict[str, str], line: str) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """The open New videos draft once `line` is in its French body, else None."""
    drafts = new_videos_drafts(client, editor_header)
    return drafts[0] if drafts and line in drafts[0]["body"]["fr"] else None


def test_a_published_videos_new_title_reaches_the_draft_and_an_unpublished_ones_edit_sends_nothing(
    infra, catalogue_client, catalogue_db, media_root, newsletter_client, newsletter_editor, chain
):  # type: ignore[no-untyped-def]
    word = unique_word()
    video = add_video(catalogue_client, media_root, title={"en": word, "fr": f"{word} fr"})
    hidden = add_video(catalogue_client, media_root, title=unique_word())
    assert (
        catalogue_client.delete(f"/v1/videos/{hidden['id']}/publication", headers=editor()).status_code == 204
    )
    page = f"{PORTAL}/videos/{video['id']})"
    wait_for(
        lambda: draft_line(newsletter_client, newsletter_editor, f"- [{word} fr]({page}"),
        timeout=60,
        what="the video's line in the draft",
        interval=0.2,
    )

    malformed = texts_changed(uuid.UUID(video["id"]), "Malformed", "Malformé", revision=9)
    malformed.data["texts_revision"] = "nine"
    send_raw(infra, chain.topic, video["id"], [malformed.to_json().encode()])
    renamed = {"title": {"en": f"{word} renamed", "fr": f"{word} renommé"}}
    for changed in (video, hidden):
        edited = catalogue_client.patch(f"/v1/videos/{changed['id']}", json=renamed, headers=editor())
        assert edited.status_code == 200, edited.json
    draft = wait_for(
        lambda: draft_line(newsletter_client, newsletter_editor, f"- [{word} renommé]({page}"),
        timeout=60,
        what="the new title in the draft",
        interval=0.2,
    )
    assert f"- [{word} renamed]({page}" in draft["body"]["en"] and f"[{word} fr]" not in draft["body"]["fr"]
    assert hidden["id"] not in str(draft["body"])
    [reason] = dead_letter_reasons(chain.dead_letters, 1)
    assert b"InvalidEvent" in reason and b"texts_revision" in reason

    # A late, older VideoTextsChanged, then a marker on the same key (the same partition, read after it).
    marker = uuid.uuid4()
    stale = texts_changed(uuid.UUID(video["id"]), "Stale", "Périmé", revision=0)
    send_raw(
        infra,
        chain.topic,
        video["id"],
        [stale.to_json().encode(), published(marker, "Marker", "Marqueur").to_json().encode()],
    )
    now = wait_for(
        lambda: draft_line(newsletter_client, newsletter_editor, f"/videos/{marker})"),
        timeout=60,
        what="the marker after the stale event",
        interval=0.2,
    )
    assert f"- [{word} renommé]({page}" in now["body"]["fr"] and "Périmé" not in now["body"]["fr"]

    types_of = relayed_types(catalogue_db, chain.records)
    assert types_of(video["id"]) == ["VideoPublished", "VideoTextsChanged"]
    assert types_of(hidden["id"]) == ["VideoPublished", "VideoUnpublished"]  # its edit sent nothing


def test_a_withdrawn_videos_publication_replayed_late_leaves_it_out_of_the_draft(
    infra, catalogue_client, catalogue_db, media_root, newsletter_client, newsletter_editor, chain
):  # type: ignore[no-untyped-def]
    # The newsletter fails on the video's VideoPublished (a bug, deployed away since): dead-lettered.
    word = unique_word()
    chain.refused.add(word)
    video = add_video(catalogue_client, media_root, title={"en": word, "fr": f"{word} fr"})
    [reason] = dead_letter_reasons(chain.dead_letters, 1)
    assert b"PermanentError" in reason
    chain.refused.clear()

    # Then the video is withdrawn, and the VideoUnpublished handled (a marker after it on its key).
    withdrawn = catalogue_client.delete(f"/v1/videos/{video['id']}/publication", headers=editor())
    assert withdrawn.status_code == 204
    chain.records.read_until(
        lambda read: any(json.loads(record.value)["type"] == "VideoUnpublished" for record in read),
        timeout=60,
        what="the VideoUnpublished on the topic",
    )
    handled_so_far = marker(infra, chain, video["id"], newsletter_client, newsletter_editor)
    assert video["id"] not in str(handled_so_far["body"])

    # Days later an operator replays the dead letters: the publication reaches the newsletter last.
    assert dlq.replay(infra.kafka, chain.group).replayed == 1
    draft = marker(infra, chain, video["id"], newsletter_client, newsletter_editor)
    assert video["id"] not in str(draft["body"]), "the withdrawn video is back in the draft"
    assert word not in str(draft["body"])
    revisions = [event["data"].get("video_revision") for event in video_events(catalogue_db, video["id"])]
    assert len(revisions) == 2 and revisions[0] < revisions[1]


def marker(infra: Infra, chain: Chain, key: str, client, editor_header: dict[str, str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The open draft once a marker (another video's VideoPublished) sent on `key` now is listed: the
    events of that key written before it were handled (one partition, read in order)."""
    after = uuid.uuid4()
    send_raw(infra, chain.topic, key, [published(after, "Marker", "Marqueur").to_json().encode()])
    return wait_for(
        lambda: draft_line(client, editor_header, f"/videos/{after})"),
        timeout=60,
        what="the marker in the draft",
        interval=0.2,
    )


def relayed_types(catalogue_db: str, records: TopicReader) -> Callable[[str], list[str]]:
    """Once every video event of the catalogue's outbox is on the topic: the types of those of a video,
    in the order they came."""
    with psycopg.connect(catalogue_db) as conn:
        rows = conn.execute("SELECT event_id FROM outbox WHERE topic = %s", (VIDEO_EVENTS,)).fetchall()
    outbox = {str(event_id) for (event_id,) in rows}
    relayed = records.read_until(
        lambda read: outbox <= {json.loads(record.value)["id"] for record in read},
        timeout=60,
        what="every video event of the catalogue's outbox",
    )
    events = [
        event for event in map(json.loads, (record.value for record in relayed)) if event["id"] in outbox
    ]
    return lambda video_id: [event["type"] for event in events if event["subject"] == video_id]
