"""Publishing issues and fanning them out to Kafka, in-process against PostgreSQL and the real broker."""

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import jwt
import psycopg
import pytest

from accounts_common.events import Topic, validate_data
from accounts_common.events.topics import NEWSLETTER_DELIVERIES, delete_topics, ensure_topics
from accounts_common.roles import Role
from identity.service_layer import staff
from newsletter.domain.issues import delivery_id
from newsletter.domain.unsubscribe import account_of_token
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.service_layer.subscriptions import unsubscribe
from tests.integration.conftest import NEWSLETTER_TOPIC_PREFIX, PASSWORD, bearer, sign_up, staff_token
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of, locales_of, recipients_of, seed_subscribers
from tests.support.polling import wait_for

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


def wait_complete(client, issue_id: str, editor: dict[str, str]) -> dict:  # type: ignore[no-untyped-def, type-arg]
    def complete():  # type: ignore[no-untyped-def]
        body = client.get(f"/v1/issues/{issue_id}", headers=editor).json
        return body if body["status"] == "complete" else None

    return wait_for(complete, timeout=60, what=f"issue {issue_id} to be fanned out", interval=0.1)


def test_an_issue_reaches_every_subscriber_once_with_a_working_link(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra, newsletter_editor
):
    seed_subscribers(newsletter_db, 150)
    start_fan_out()
    reader = TopicReader(infra.kafka, deliveries_topic)
    try:
        accepted = newsletter_client.post("/v1/issues", json=ISSUE, headers=newsletter_editor)
        assert accepted.status_code == 202, accepted.json
        issue_id = accepted.json["id"]
        expected = recipients_of(newsletter_db, issue_id)
        assert accepted.json["total"] == len(expected) >= 150
        progress = wait_complete(newsletter_client, issue_id, newsletter_editor)
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
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra, newsletter_editor
):
    first, leaver = seed_subscribers(newsletter_db, 2)
    accepted = newsletter_client.post("/v1/issues", json=ISSUE, headers=newsletter_editor).json
    [latecomer] = seed_subscribers(newsletter_db, 1)
    unsubscribe(newsletter, uuid.UUID(leaver), "user")
    reader = TopicReader(infra.kafka, deliveries_topic)
    start_fan_out()
    try:
        progress = wait_complete(newsletter_client, accepted["id"], newsletter_editor)
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


def test_only_newsletter_editors_with_a_second_factor_publish_and_read_issues(
    newsletter_client, served_identity, identity_pool, unique_email, newsletter_editor
):
    identity = served_identity.app.extensions["identity"]
    plain = bearer(sign_up(served_identity.app.test_client(), identity_pool, unique_email))
    support = bearer(staff_token(identity, identity_pool, Role.SUPPORT))
    assert newsletter_client.post("/v1/issues", json=ISSUE).status_code == 401
    assert newsletter_client.post("/v1/issues", json=ISSUE, headers=bearer("guess")).status_code == 401
    for wrong in (plain, support):
        refused = newsletter_client.get(f"/v1/issues/{uuid.uuid4()}", headers=wrong)
        assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    staff.grant(identity, unique_email, Role.NEWSLETTER_EDITOR)
    without_otp = served_identity.app.test_client().post(
        "/v1/sessions", json={"email": unique_email, "password": PASSWORD}
    )
    refused = newsletter_client.post(
        "/v1/issues", json=ISSUE, headers=bearer(without_otp.json["access_token"])
    )
    assert refused.status_code == 403 and refused.json["type"].endswith("second-factor-required")
    missing = newsletter_client.get(f"/v1/issues/{uuid.uuid4()}", headers=newsletter_editor)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_publishing_an_issue_is_in_the_audit_trail(newsletter_client, newsletter_db, newsletter_editor):
    accepted = newsletter_client.post("/v1/issues", json=ISSUE, headers=newsletter_editor).json
    editor_id = jwt.decode(
        newsletter_editor["Authorization"].split()[1], options={"verify_signature": False}
    )["sub"]
    with psycopg.connect(newsletter_db) as conn:
        rows = conn.execute(
            "SELECT topic, record_value FROM outbox WHERE record_key = %s", (editor_id,)
        ).fetchall()
    [(topic, value)] = rows
    assert topic == NEWSLETTER_TOPIC_PREFIX + "audit.operator-actions.v1"
    action = json.loads(value)["data"]
    assert (action["action"], action["actor_account_id"], action["via"]) == ("issue.sent", editor_id, "api")
    assert accepted["id"] in action["target"]


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
def test_a_bad_issue_is_a_422_problem(newsletter_client, body, newsletter_editor):
    response = newsletter_client.post("/v1/issues", json=body, headers=newsletter_editor)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("huge", "problem"),
    [
        ({**ISSUE, "html": "x" * (2 * 1024 * 1024)}, "about:blank"),  # over the request size limit
        # Under 200,000 characters a part and 1 MiB of UTF-8 request, over one 1 MB record with its
        # envelope: 4 bytes a character in both.
        (
            {**ISSUE, "text": "\U0001f600" * 125_000, "html": "\U0001f600" * 125_000},
            "/problems/issue-too-large",
        ),
    ],
)
def test_a_huge_issue_is_refused(newsletter_client, huge, problem, newsletter_editor):
    body = json.dumps(huge, ensure_ascii=False).encode()
    response = newsletter_client.post(
        "/v1/issues", data=body, content_type="application/json", headers=newsletter_editor
    )
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert response.json["type"] == problem
