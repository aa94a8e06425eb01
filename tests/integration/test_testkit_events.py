"""The testkit's TopicReader against the real broker: it reads every topic it is given, or fails."""

import json
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer

from accounts_common.events.topics import ACCOUNT_EVENTS, Topic
from accounts_testkit import events
from accounts_testkit.events import TopicReader
from tests.conftest import RUN_ID, fresh_topics


@pytest.fixture
def closed(monkeypatch) -> list[KafkaConsumer]:
    """The consumers the readers made and closed."""
    closed: list[KafkaConsumer] = []

    class Consumer(KafkaConsumer):
        def close(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            closed.append(self)
            super().close(*args, **kwargs)

    monkeypatch.setattr(events, "KafkaConsumer", Consumer)
    return closed


def test_a_reader_of_a_topic_that_does_not_exist_beside_one_that_does_fails_naming_it(infra, closed):
    missing = f"testkit-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(AssertionError, match=missing):
        TopicReader(infra.kafka, ACCOUNT_EVENTS, missing)
    assert len(closed) == 1


def test_a_reader_that_cannot_start_closes_its_consumer(infra, closed):
    with pytest.raises(AssertionError):
        TopicReader(infra.kafka, f"testkit-missing-{uuid.uuid4().hex[:8]}")
    assert len(closed) == 1


def test_the_events_read_leave_out_a_compacted_topics_tombstones(infra):
    topic = f"testkit-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    reader = TopicReader(infra.kafka, topic)
    try:
        producer = KafkaProducer(bootstrap_servers=infra.kafka)
        producer.send(topic, key=b"account", value=json.dumps({"type": "AccountVerified"}).encode())
        producer.send(topic, key=b"account", value=None)  # the account's deletion, compacted
        producer.flush()
        producer.close()
        reader.read_until(lambda records: len(records) == 2, timeout=30, what="the event and its tombstone")
        assert reader.events() == [{"type": "AccountVerified"}]
    finally:
        reader.close()
