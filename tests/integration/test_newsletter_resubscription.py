"""Subscribers who leave, or leave and come back, while an issue fans out, in-process against
PostgreSQL and the real broker: an issue goes to whoever was subscribed when it started and still is
when their turn comes, each once."""

import uuid
from datetime import UTC, datetime

from accounts_common.auth import Principal
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.subscriptions import subscribe, unsubscribe
from tests.integration.test_newsletter_issues import create, send
from tests.support.newsletter import seed_subscribers


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
