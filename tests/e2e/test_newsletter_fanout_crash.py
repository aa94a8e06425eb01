"""An issue to 5,000 subscribers with the fan-out worker killed (SIGKILL) half way and restarted.

Every subscriber must get exactly one delivery request: none skipped, none with two different ids.
A batch the worker had sent but not yet recorded when it died is sent again with the same event
ids; consumers deduplicate by event id (the mailer's delivery log does), so such a repeat is the
same request, not a second one.
"""

import signal
import uuid
from collections import defaultdict
from collections.abc import Iterator

import psycopg
import pytest

from accounts_common.events import Topic
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    DELIVERY_RESULTS,
    NEWSLETTER_DELIVERIES,
    SUBSCRIPTION_EVENTS,
)
from newsletter.domain.issues import delivery_id
from tests.conftest import RUN_ID, fresh_topics
from tests.e2e.conftest import Newsletter, private_newsletter
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of, issue_in_both_languages, seed_subscribers, send_issue
from tests.support.polling import wait_for

SUBSCRIBERS = 5000
PREFIX = f"e2e-{RUN_ID}-crash."


@pytest.fixture
def crash_newsletter(infra, tmp_path_factory) -> Iterator[Newsletter]:  # type: ignore[no-untyped-def]
    names = (ACCOUNT_EVENTS, SUBSCRIPTION_EVENTS, NEWSLETTER_DELIVERIES, DELIVERY_RESULTS)
    fresh_topics(infra, *(Topic(PREFIX + name, partitions=6) for name in names))
    logs = tmp_path_factory.mktemp("newsletter-crash-logs")
    with private_newsletter(
        infra, logs, name="crash", topic_prefix=PREFIX, NEWSLETTER_FANOUT_BATCH_SIZE="250"
    ) as running:
        yield running
        # The restarted worker's consumer may still be joining its group, held by the killed member
        # until its session times out: a SIGTERM would wait out the worker's 5 s grace for it, and
        # nothing after the test needs a clean stop.
        running.processes["newsletter-worker-crash"].stop(signal.SIGKILL)


def requested(database_url: str, issue_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT requested FROM issues WHERE id = %s", (issue_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_killed_fan_out_resumes_without_skipping_or_doubling_anyone(crash_newsletter, infra):
    subscribers = set(seed_subscribers(crash_newsletter.database_url, SUBSCRIBERS))
    reader = TopicReader(infra.kafka, PREFIX + NEWSLETTER_DELIVERIES)
    worker = crash_newsletter.processes["newsletter-worker-crash"]
    try:
        issue = send_issue(
            crash_newsletter.url, crash_newsletter.editor, issue_in_both_languages("Crash test", "Once.")
        )
        assert issue["status"] == "sending"
        wait_for(
            lambda: requested(crash_newsletter.database_url, issue["id"]) >= SUBSCRIBERS // 5,
            timeout=60,
            what="the fan-out to be under way",
            interval=0.01,
        )
        assert worker.process is not None
        worker.process.send_signal(signal.SIGSTOP)  # frozen where it is, then killed there
        done_at_kill = requested(crash_newsletter.database_url, issue["id"])
        assert done_at_kill < SUBSCRIBERS, "the fan-out finished before the kill: nothing was tested"
        worker.stop(signal.SIGKILL)
        worker.start()

        def complete() -> bool:
            status, progress = crash_newsletter.editor_call("GET", f"/v1/issues/{issue['id']}")
            return status == 200 and progress["status"] == "sent" and progress

        progress = wait_for(complete, timeout=120, what="the restarted fan-out to complete", interval=0.2)
        assert progress["figures"]["recipients"] == SUBSCRIBERS

        def all_delivered(records) -> bool:  # type: ignore[no-untyped-def]
            return len({d["id"] for d in deliveries_of(records, issue["id"])}) >= SUBSCRIBERS

        reader.read_until(all_delivered, timeout=60, what=f"{SUBSCRIBERS} distinct delivery requests")
    finally:
        reader.close()
    ids_by_subscriber = defaultdict(set)
    for request in deliveries_of(reader.records, issue["id"]):
        ids_by_subscriber[request["subject"]].add(request["id"])
    assert set(ids_by_subscriber) == subscribers
    assert all(len(ids) == 1 for ids in ids_by_subscriber.values())
    issue_uuid = uuid.UUID(issue["id"])
    assert all(ids == {str(delivery_id(issue_uuid, uuid.UUID(s)))} for s, ids in ids_by_subscriber.items())
