"""A static member whose instance id another consumer took stops with a clear error (fakes, no I/O)."""

import pytest
from kafka import TopicPartition
from kafka.errors import FencedInstanceIdError

from accounts_common.consumer import InstanceFenced
from tests.support.consumer_fakes import OnePartitionConsumer, consumer_on, user_registered_record
from tests.support.workers import stopped_after

PARTITION = TopicPartition("topic", 0)


class FencedAfterJoin(OnePartitionConsumer):
    """A KafkaConsumer that hands out one record, then learns on commit that it was fenced."""

    def __init__(self) -> None:
        super().__init__(PARTITION)
        self.record = user_registered_record(PARTITION)

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        return {PARTITION: [self.record]}

    def commit(self, offsets, timeout_ms=None) -> None:  # type: ignore[no-untyped-def]
        raise FencedInstanceIdError("worker-1")


def assert_stops_fenced(fake: FencedAfterJoin) -> None:
    """A worker on `fake` raises InstanceFenced and closes its consumer, well before 5 s."""
    consumer = consumer_on(fake, group="mailer", group_instance_id="worker-1")
    # A consumer that swallowed the fencing would run on: stopped after 5 s, it fails here.
    with (
        stopped_after(5) as stop,
        pytest.raises(InstanceFenced, match="another consumer joined as instance 'worker-1'"),
    ):
        consumer.run(stop)
    assert fake.closed


def test_a_fenced_static_member_stops_with_a_clear_error():
    assert_stops_fenced(FencedAfterJoin())


class FencedOnPoll(FencedAfterJoin):
    """A KafkaConsumer whose poll() raises the fencing: a heartbeat or a join refused
    FENCED_INSTANCE_ID, with nothing handled since, so no commit to learn it from."""

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        raise FencedInstanceIdError("worker-1")


def test_a_member_fenced_while_idle_stops_too_not_waiting_for_kafka():
    assert_stops_fenced(FencedOnPoll())  # before: "Kafka unreachable, polling again", for good
