"""A group leader whose rejoin ends between two polls, on the real Kafka: kafka-python 3.0.12 never takes
that join up and leaves the member silent; create_consumer's members, the EventConsumer's, join again
(accounts_common.kafka.GroupMember, bench/kafka_group_rejoin.py)."""

import threading
import uuid
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewPartitions
from kafka.structs import MemberState

from accounts_common.events.topics import Topic
from accounts_common.kafka import create_admin, create_consumer
from tests.conftest import Infra, fresh_topics
from tests.support.consumer_fakes import consumer_on
from tests.support.polling import wait_for
from tests.support.workers import running


def polled(consumer: KafkaConsumer) -> Callable[[threading.Event], None]:
    """A worker's loop around `consumer`, without the handling."""

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            consumer.poll(timeout_ms=200)

    return loop


def refreshed(consumer: KafkaConsumer, topic: str, partitions: set[int]) -> bool:
    """Whether the consumer's metadata has the topic's `partitions`; if not, ask for it again (a
    refresh can answer before the broker's own metadata has them)."""
    if consumer.partitions_for_topic(topic) == partitions:
        return True
    consumer._client.cluster.request_update()
    return False


def stable(consumer: KafkaConsumer) -> bool:
    return consumer.group_metadata().state is MemberState.STABLE


def test_a_leader_whose_rejoin_ends_between_two_polls_joins_again(infra: Infra):
    topic, group = f"test.rejoin.{uuid.uuid4().hex[:8]}", f"test-rejoin-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    leader = create_consumer(infra.kafka, group_id=group, topics=(topic,))  # the first member leads
    other = create_consumer(infra.kafka, group_id=group, topics=(topic,))
    try:
        # Known before the first join, or the first join assigns nothing and the metadata that follows
        # makes the leader rejoin the way this test is about (as test_rewind_command's member did).
        wait_for(lambda: refreshed(leader, topic, {0}), timeout=30, what="the topic's partition")
        with running(polled(leader)):
            wait_for(lambda: stable(leader) and leader.assignment(), timeout=30, what="the leader alone")
            with running(polled(other)):
                wait_for(
                    lambda: stable(leader) and stable(other) and other.group_metadata().generation_id >= 2,
                    timeout=30,
                    what="both members",
                )
        assert leader._coordinator._is_leader  # kafka-python's own view: the member that assigns

        # A partition more, seen by the leader's next metadata refresh (asked now, not in 5 minutes).
        admin = create_admin(infra.kafka, client_id="test-rejoin")
        admin.create_partitions({topic: NewPartitions(total_count=2)})
        admin.close()
        wait_for(lambda: refreshed(leader, topic, {0, 1}), timeout=30, what="the new partition")
        # One short poll: the leader rejoins, and waits for the other member, which polls only after.
        leader.poll(timeout_ms=100)
        assert leader.group_metadata().state is MemberState.REBALANCING
        generation = other.group_metadata().generation_id
        with running(polled(other)):
            # The other member's new assignment came from the leader's SyncGroup: its join is over.
            wait_for(
                lambda: stable(other) and other.group_metadata().generation_id > generation,
                timeout=30,
                what="the rebalance",
            )
            with running(
                consumer_on(leader, group=group, topics=(topic,), bootstrap_servers=infra.kafka).run
            ):
                wait_for(
                    lambda: stable(leader) and len(leader.assignment()) == 1 and len(other.assignment()) == 1,
                    timeout=30,
                    what="the leader back in the group with a partition",
                )
                assert leader.assignment() | other.assignment() == {
                    TopicPartition(topic, 0),
                    TopicPartition(topic, 1),
                }
    finally:
        leader.close(autocommit=False)
        other.close(autocommit=False)
