"""The scheduler's gate over a fake of the group's progress: where the account-events topic ended is
noted once per due issue, so events published after the issue fell due never hold it back (a busy
topic cannot starve it); each wait is logged once; and Kafka not telling keeps the issue waiting."""

import logging
import uuid
from datetime import UTC, datetime

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY

from newsletter.domain.issues import Issue
from newsletter.service_layer.due_issues import DueIssueGate

PARTITION = TopicPartition("identity.account-events.v1", 0)


class BusyTopic:
    """A topic that grows by 10 records each time its end is asked; the group has handled `handled`."""

    def __init__(self, end: int, handled: int) -> None:
        self.end, self.handled = end, handled
        self.failing: Exception | None = None
        self.closed = 0

    def ends(self) -> dict[TopicPartition, int]:
        if self.failing:
            raise self.failing
        self.end += 10
        return {PARTITION: self.end}

    def unhandled(self, ends: dict[TopicPartition, int]) -> int:
        if self.failing:
            raise self.failing
        return max(0, ends[PARTITION] - self.handled)

    def close(self) -> None:
        self.closed += 1


def due() -> Issue:
    now = datetime.now(UTC)
    return Issue(uuid.uuid4(), "scheduled", {}, {}, uuid.uuid4(), now, now, None, None)


def awaited() -> float | None:
    return REGISTRY.get_sample_value("newsletter_scheduled_issue_awaited_account_events")


def test_events_published_after_the_issue_fell_due_do_not_hold_it_back():
    topic = BusyTopic(end=100, handled=100)
    gate = DueIssueGate(topic)  # type: ignore[arg-type]
    issue = due()
    assert not gate.clear(issue) and awaited() == 10  # ended at 110 when it fell due
    topic.handled = 110  # the group reaches that point while the topic grows on
    assert gate.clear(issue) and awaited() == 0
    assert topic.end == 110, "the end was asked once for the issue"
    assert not gate.clear(due()), "another issue: where the topic ends now"


def test_a_wait_is_logged_once_per_issue_and_reason(caplog: pytest.LogCaptureFixture):
    topic = BusyTopic(end=0, handled=0)
    gate = DueIssueGate(topic)  # type: ignore[arg-type]
    issue = due()
    with caplog.at_level(logging.WARNING, logger="newsletter.service_layer.due_issues"):
        for _ in range(3):
            gate.clear(issue)
        topic.failing = KafkaTimeoutError("no answer")
        for _ in range(3):
            gate.clear(issue)
    said = [record.getMessage() for record in caplog.records]
    assert said == [
        f"issue {issue.id} is due and waits: 10 account events are to be handled first",
        f"issue {issue.id} is due and waits: Kafka does not tell which account events are handled "
        "(KafkaTimeoutError: no answer)",
    ]


def test_while_kafka_does_not_tell_the_issue_waits_and_the_connection_is_dropped():
    topic = BusyTopic(end=0, handled=0)
    topic.failing = KafkaTimeoutError("no answer")
    gate = DueIssueGate(topic)  # type: ignore[arg-type]
    assert not gate.clear(due())
    assert awaited() == -1 and topic.closed == 1
    gate.nothing_due()
    assert awaited() == 0
