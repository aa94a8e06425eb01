"""Subscribers who leave, or leave and come back, while an issue fans out, in-process against
PostgreSQL and the real broker: an issue goes to whoever was subscribed when it started and still is
when their turn comes, each once."""

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from accounts_common.auth import Principal
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.service_layer.subscriptions import subscribe, unsubscribe
from tests.integration.test_newsletter_issues import (  # noqa: F401 # the fixture shared with it
    create,
    deliveries_topic,
    send,
)
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of, seed_subscribers


def fan_out_now(newsletter: Newsletter, kafka: str, topic: str, issue_id: str, **worker: Any) -> None:
    """Fan the started issue out in this thread, as the worker does once it leads (`worker`: its
    batch size, a producer of the test's)."""
    fan_out = FanOutWorker(
        newsletter,
        kafka,
        portal_url="https://portal.example.test",
        unsubscribe_key=newsletter.settings.unsubscribe_key,
        topic=topic,
        **{"batch_size": 40, **worker},
    )
    with psycopg.connect(newsletter.settings.database_url, autocommit=True) as conn:
        issue = repository.find_issue(conn, uuid.UUID(issue_id))
        assert issue is not None and issue.status == "sending"
        fan_out.fan_out(conn, issue, threading.Event())
        assert repository.find_issue(conn, issue.id).status == "sent"  # type: ignore[union-attr]
    fan_out._drop_producer()


def subscribe_again(newsletter: Newsletter, account_id: str) -> None:
    email = f"back-{account_id}@example.org"
    principal = Principal(uuid.UUID(account_id), email, True, datetime.now(UTC), "token")
    _, new = subscribe(newsletter, principal)
    assert new


def test_a_subscriber_who_leaves_and_comes_back_before_their_turn_gets_the_issue_once(
    newsletter,
    newsletter_client,
    newsletter_db,
    deliveries_topic,  # noqa: F811
    infra,
    newsletter_editor,
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
    reader = TopicReader(infra.kafka, deliveries_topic)
    try:
        fan_out_now(newsletter, infra.kafka, deliveries_topic, issue_id)
        requested = newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json
        reader.read_until(
            lambda records: len(deliveries_of(records, issue_id)) >= requested["figures"]["recipients"],
            timeout=30,
            what="the issue's delivery requests",
        )
    finally:
        reader.close()
    recipients = [event["subject"] for event in deliveries_of(reader.records, issue_id)]
    assert recipients.count(returning) == 1 and recipients.count(stayer) == 1
    assert leaver not in recipients and away not in recipients
    assert len(recipients) == len(set(recipients))
