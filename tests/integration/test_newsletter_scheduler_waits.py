"""The scheduler starts a due issue only once the worker's consumer has handled every account event
Kafka held when the issue fell due, against the real broker and PostgreSQL: a revocation of its
editor's role still unread then (the consumer held up by an outage or a retry) holds the issue
instead of sending it, any other event only delays it, and while Kafka cannot tell nothing goes."""

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from accounts_common.auth import Principal
from accounts_common.consumer import EventConsumer
from accounts_common.events import CloudEvent, Topic
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.domain.issues import Issue
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.issues import send_issue
from tests.conftest import fresh_topics
from tests.integration.conftest import NEWSLETTER_TOPIC_PREFIX, fan_out_worker
from tests.integration.test_newsletter_scheduling_authority import draft, editor_token
from tests.support.kafka import publish_events
from tests.support.newsletter import role_revoked
from tests.support.polling import wait_for

AWAITED = "newsletter_scheduled_issue_awaited_account_events"


@pytest.fixture(scope="module")
def deliveries(infra) -> str:  # type: ignore[no-untyped-def]
    topic = f"{NEWSLETTER_TOPIC_PREFIX}deliveries.waits-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    return topic


@pytest.fixture
def account_events(infra) -> str:  # type: ignore[no-untyped-def]
    topic = f"{NEWSLETTER_TOPIC_PREFIX}account-events.waits-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=2))
    return topic


@pytest.fixture
def due_issue(newsletter: Newsletter) -> Iterator[Callable[[Principal], uuid.UUID]]:
    """An issue `editor` scheduled whose time has come; cancelled after the test if it has not gone."""
    made: list[uuid.UUID] = []

    def make(editor: Principal) -> uuid.UUID:
        issue_id = draft(newsletter, editor)
        send_issue(newsletter, issue_id, editor, datetime.now(UTC) + timedelta(hours=1))
        with newsletter.pool.connection() as conn:
            conn.execute("UPDATE issues SET send_at = now() - interval '1 second' WHERE id = %s", (issue_id,))
        made.append(issue_id)
        return issue_id

    yield make
    with newsletter.pool.connection() as conn:
        for issue_id in made:
            repository.cancel(conn, issue_id)


def issue(newsletter: Newsletter, issue_id: uuid.UUID) -> Issue:
    with newsletter.pool.connection() as conn:
        found = repository.find_issue(conn, issue_id)
    assert found is not None
    return found


def consumer(newsletter: Newsletter, group: str, topic: str) -> EventConsumer:
    """The worker's consumer of account events, in `group`."""
    return EventConsumer(
        group=group,
        topics=(topic,),
        handlers=account_event_handlers(newsletter),
        pool=newsletter.pool,
        bootstrap_servers=newsletter.settings.kafka_bootstrap_servers,
    )


def awaited() -> float | None:
    return REGISTRY.get_sample_value(AWAITED)


def waits_for_the_consumer(newsletter: Newsletter, issue_id: uuid.UUID, events: int) -> None:
    """The fan-out found the issue due and waits for `events` unhandled events; the issue is still
    scheduled after a few more of its polls."""
    wait_for(lambda: awaited() == events, timeout=30, what=f"the fan-out to wait for {events} events")
    threading.Event().wait(1.0)  # five polls of the fan-out
    assert issue(newsletter, issue_id).status == "scheduled"


@pytest.fixture
def behind_the_consumer(newsletter, infra, deliveries, account_events, run_in_thread):  # type: ignore[no-untyped-def]
    """Publish `events` unhandled by the worker's group, start the fan-out, see the due issue wait for
    them, then start the worker's consumer."""

    def start(issue_id: uuid.UUID, events: list[CloudEvent]) -> None:
        publish_events(infra.kafka, account_events, events)
        group = f"newsletter-{uuid.uuid4().hex[:8]}"
        fan_out = fan_out_worker(
            newsletter, infra.kafka, deliveries, account_events, group, poll_interval=0.2
        )
        run_in_thread(fan_out.run)
        waits_for_the_consumer(newsletter, issue_id, len(events))
        run_in_thread(consumer(newsletter, group, account_events).run)

    return start


def test_a_revocation_unread_when_the_issue_fell_due_holds_it_instead_of_sending_it(
    newsletter, due_issue, behind_the_consumer
):
    editor = editor_token(datetime.now(UTC) - timedelta(minutes=5))
    issue_id = due_issue(editor)
    revoked, _ = role_revoked(editor.account_id, uuid.uuid4())  # before the time, but not yet handled
    behind_the_consumer(issue_id, [revoked])
    held = wait_for(
        lambda: (found := issue(newsletter, issue_id)).status == "draft" and found,
        timeout=30,
        what="the revocation to hold the issue",
    )
    assert held.held_because == "role-revoked" and held.started_at is None
    wait_for(lambda: awaited() == 0 or None, timeout=30, what="the fan-out to wait for nothing more")
    assert issue(newsletter, issue_id).started_at is None


def test_a_due_issue_goes_once_the_events_before_it_are_handled(newsletter, due_issue, behind_the_consumer):
    issue_id = due_issue(editor_token(datetime.now(UTC) - timedelta(minutes=5)))
    another_editors, _ = role_revoked(uuid.uuid4(), uuid.uuid4())
    behind_the_consumer(issue_id, [another_editors, another_editors])
    wait_for(lambda: issue(newsletter, issue_id).status == "sent", timeout=60, what="the issue to go")


def test_while_kafka_cannot_tell_what_is_handled_a_due_issue_waits(
    newsletter, infra, deliveries, run_in_thread, due_issue
):
    issue_id = due_issue(editor_token(datetime.now(UTC) - timedelta(minutes=5)))
    missing = f"{NEWSLETTER_TOPIC_PREFIX}account-events.missing-{uuid.uuid4().hex[:8]}"
    run_in_thread(fan_out_worker(newsletter, infra.kafka, deliveries, missing, poll_interval=0.2).run)
    waits_for_the_consumer(newsletter, issue_id, -1)
