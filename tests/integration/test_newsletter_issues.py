"""Publishing issues and fanning them out to Kafka, in-process against PostgreSQL and the real broker."""

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from accounts_common.events import Topic, validate_data
from accounts_common.events.topics import NEWSLETTER_DELIVERIES, delete_topics, ensure_topics
from newsletter.domain.issues import delivery_id
from newsletter.domain.unsubscribe import account_of_token
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.service_layer.subscriptions import unsubscribe
from tests.integration.conftest import NEWSLETTER_OPERATOR_TOKEN, NEWSLETTER_TOPIC_PREFIX, bearer
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of, locales_of, recipients_of, seed_subscribers
from tests.support.polling import wait_for

OPERATOR = bearer(NEWSLETTER_OPERATOR_TOKEN)
ISSUE = {
    "subject": "Our latest updates",
    "text": "New videos this week.\n",
    "html": "<p>New videos this week.</p>",
}


@pytest.fixture(scope="module")
def deliveries_topic(infra) -> Iterator[str]:  # type: ignore[no-untyped-def]
    topic = NEWSLETTER_TOPIC_PREFIX + NEWSLETTER_DELIVERIES
    ensure_topics(infra.kafka, (Topic(topic, partitions=3),))
    yield topic
    delete_topics(infra.kafka, [topic])


@pytest.fixture
def start_fan_out(newsletter, deliveries_topic, infra):  # type: ignore[no-untyped-def]
    """Start a fan-out worker in a thread (stopped after the test)."""
    stop = threading.Event()
    threads = []

    def start() -> None:
        worker = FanOutWorker(
            newsletter.settings.database_url,
            infra.kafka,
            portal_url="https://portal.example.test",
            unsubscribe_key=newsletter.settings.unsubscribe_key,
            topic=deliveries_topic,
            batch_size=40,
            poll_interval=0.2,
        )
        threads.append(threading.Thread(target=worker.run, args=(stop,), daemon=True))
        threads[-1].start()

    yield start
    stop.set()
    for thread in threads:
        thread.join(30)


def wait_complete(client, issue_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    def complete():  # type: ignore[no-untyped-def]
        body = client.get(f"/v1/issues/{issue_id}", headers=OPERATOR).json
        return body if body["status"] == "complete" else None

    return wait_for(complete, timeout=60, what=f"issue {issue_id} to be fanned out", interval=0.1)


def test_an_issue_reaches_every_subscriber_once_with_a_working_link(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra
):
    seed_subscribers(newsletter_db, 150)
    start_fan_out()
    reader = TopicReader(infra.kafka, deliveries_topic)
    try:
        accepted = newsletter_client.post("/v1/issues", json=ISSUE, headers=OPERATOR)
        assert accepted.status_code == 202, accepted.json
        issue_id = accepted.json["id"]
        expected = recipients_of(newsletter_db, issue_id)
        assert accepted.json["total"] == len(expected) >= 150
        progress = wait_complete(newsletter_client, issue_id)
        assert progress["requested"] == progress["total"] == len(expected)
        reader.read_until(
            lambda records: len(deliveries_of(records, issue_id)) >= len(expected),
            timeout=30,
            what="the issue's delivery requests",
        )
    finally:
        reader.close()
    deliveries = deliveries_of(reader.records, issue_id)
    locales = locales_of(newsletter_db)
    assert {"fr", None} <= set(locales.values())
    assert Counter(event["subject"] for event in deliveries) == Counter(expected)
    assert {record.key.decode() for record in reader.records} >= expected
    for event in deliveries:
        validate_data(event["type"], event["data"])
        assert (
            event["id"]
            == event["data"]["delivery_id"]
            == str(delivery_id(uuid.UUID(issue_id), uuid.UUID(event["subject"])))
        )
        link = urlparse(event["data"]["unsubscribe_url"])
        assert link.netloc == "portal.example.test" and link.path == "/newsletter/unsubscribe"
        locale = locales[event["subject"]]
        assert event["data"].get("locale") == locale, "in the subscriber's language, when known"
        assert parse_qs(link.query).get("lang") == ([locale] if locale else None)
        [token] = parse_qs(link.query)["token"]
        assert str(account_of_token(newsletter.settings.unsubscribe_key, token)) == event["subject"]
        assert (event["data"]["subject"], event["data"]["html"]) == (ISSUE["subject"], ISSUE["html"])


def test_who_unsubscribes_before_the_fan_out_is_skipped_and_later_subscribers_wait_for_the_next_issue(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra
):
    first, leaver = seed_subscribers(newsletter_db, 2)
    accepted = newsletter_client.post("/v1/issues", json=ISSUE, headers=OPERATOR).json
    [latecomer] = seed_subscribers(newsletter_db, 1)
    unsubscribe(newsletter, uuid.UUID(leaver), "user")
    reader = TopicReader(infra.kafka, deliveries_topic)
    start_fan_out()
    try:
        progress = wait_complete(newsletter_client, accepted["id"])
        reader.read_until(
            lambda records: len(deliveries_of(records, accepted["id"])) >= progress["requested"],
            timeout=30,
            what="the delivery requests",
        )
    finally:
        reader.close()
    recipients = {event["subject"] for event in deliveries_of(reader.records, accepted["id"])}
    assert first in recipients and leaver not in recipients and latecomer not in recipients
    assert progress["requested"] == progress["total"] - 1


def test_only_operators_publish_and_read_issues(newsletter_client):
    assert newsletter_client.post("/v1/issues", json=ISSUE).status_code == 401
    assert newsletter_client.post("/v1/issues", json=ISSUE, headers=bearer("guess")).status_code == 403
    assert newsletter_client.get(f"/v1/issues/{uuid.uuid4()}", headers=bearer("guess")).status_code == 403
    missing = newsletter_client.get(f"/v1/issues/{uuid.uuid4()}", headers=OPERATOR)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {**ISSUE, "subject": "two\nlines"},
        {**ISSUE, "subject": ""},
        {**ISSUE, "extra": 1},
        {"subject": "no bodies"},
        {**ISSUE, "text": 42},
    ],
)
def test_a_bad_issue_is_a_422_problem(newsletter_client, body):
    response = newsletter_client.post("/v1/issues", json=body, headers=OPERATOR)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("huge", "problem"),
    [
        ({**ISSUE, "html": "x" * (2 * 1024 * 1024)}, "about:blank"),  # over the request size limit
        # Fits the request (escaped, 6 bytes a character in both), not one record with its envelope.
        ({**ISSUE, "text": "\u0001" * 87_000, "html": "\u0001" * 87_000}, "/problems/issue-too-large"),
    ],
)
def test_a_huge_issue_is_refused(newsletter_client, huge, problem):
    response = newsletter_client.post("/v1/issues", json=huge, headers=OPERATOR)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert response.json["type"] == problem
