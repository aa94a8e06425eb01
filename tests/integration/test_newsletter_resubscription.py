"""Subscribers who leave, or leave and come back, while an issue fans out, in-process against
PostgreSQL and the real broker: an issue goes to whoever was subscribed when it started and still is
when their turn comes, each once."""

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from accounts_common.auth import Principal
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.subscriptions import subscribe, unsubscribe
from tests.integration.test_newsletter_issues import (  # noqa: F401 # the fixtures shared with it
    account_events_topic,
    create,
    deliveries_topic,
    fan_out_worker,
    send,
)
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of, seed_subscribers


@pytest.fixture
def fan_out(newsletter, infra, deliveries_topic, account_events_topic):  # type: ignore[no-untyped-def]  # noqa: F811
    """Fan a started issue out in this thread, as the worker does once it leads (`worker`: its batch
    size, a producer of the test's); the delivery requests it made, as read off Kafka."""

    def fan_out_now(issue_id: str, **worker: Any) -> list[dict[str, Any]]:
        fan_out = fan_out_worker(newsletter, infra.kafka, deliveries_topic, account_events_topic, **worker)
        reader = TopicReader(infra.kafka, deliveries_topic)
        try:
            with psycopg.connect(newsletter.settings.database_url, autocommit=True) as conn:
                issue = repository.find_issue(conn, uuid.UUID(issue_id))
                assert issue is not None and issue.status == "sending"
                fan_out.fan_out(conn, issue, threading.Event())
                done = repository.find_issue(conn, issue.id)
                assert done is not None and done.status == "sent"
            fan_out._drop_producer()
            reader.read_until(
                lambda records: len(deliveries_of(records, issue_id)) >= done.requested,
                timeout=30,
                what="the issue's delivery requests",
            )
        finally:
            reader.close()
        return deliveries_of(reader.records, issue_id)

    return fan_out_now


def subscribe_again(newsletter: Newsletter, account_id: str) -> None:
    email = f"back-{account_id}@example.org"
    principal = Principal(uuid.UUID(account_id), email, True, datetime.now(UTC), "token")
    _, new = subscribe(newsletter, principal)
    assert new


def test_a_subscriber_who_leaves_and_comes_back_before_their_turn_gets_the_issue_once(
    newsletter, newsletter_client, newsletter_db, newsletter_editor, fan_out
):
    returning, leaver, stayer, away = seed_subscribers(newsletter_db, 4)
    unsubscribe(newsletter, uuid.UUID(away), "user")  # gone before the issue starts
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, issue_id)  # started: the recipients are counted

    # While it goes out, before their turn (the worker has not reached them yet):
    unsubscribe(newsletter, uuid.UUID(returning), "user")
    subscribe_again(newsletter, returning)  # subscribed at the start and at their turn
    unsubscribe(newsletter, uuid.UUID(leaver), "one_click")  # unsubscribed at their turn
    subscribe_again(newsletter, away)  # not subscribed when it started: like any newcomer
    recipients = [event["subject"] for event in fan_out(issue_id)]
    assert recipients.count(returning) == 1 and recipients.count(stayer) == 1
    assert leaver not in recipients and away not in recipients
    assert len(recipients) == len(set(recipients))
