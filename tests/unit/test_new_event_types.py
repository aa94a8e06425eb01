"""A consumer meets event types newer than its handlers (AccountLocaleChanged at a mailer, or a type its
library does not know yet): it skips them, counted as ignored, and dead-letters nothing."""

import uuid

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from accounts_common.consumer import EVENTS
from accounts_common.events import new_event
from tests.support.consumer_fakes import consumer_on, user_registered_record

PARTITION = TopicPartition("identity.account-events.v1", 0)


def record_of(event_type: str, data: dict[str, str]) -> ConsumerRecord:
    event = new_event(event_type, source="/identity", subject=data["account_id"], data=data)
    return user_registered_record(PARTITION)._replace(value=event.to_json().encode())


@pytest.mark.parametrize("event_type", ["AccountLocaleChanged", "AccountNicknameChanged"])
def test_an_event_type_without_a_handler_is_skipped_not_dead_lettered(event_type):
    account_id = str(uuid.uuid4())
    data = {"account_id": account_id, "email": "a@example.org", "locale": "fr", "changed_at": "soon"}
    consumer = consumer_on(object(), group="old-consumer")
    dead: list[str] = []
    consumer.dead_letter = lambda record, reason: dead.append(reason)  # type: ignore[method-assign]
    ignored = EVENTS.labels("old-consumer", "ignored")
    before = ignored._value.get()
    assert consumer.process(record_of(event_type, data)) is None
    assert dead == [] and ignored._value.get() == before + 1
