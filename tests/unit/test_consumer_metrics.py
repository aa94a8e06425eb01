"""What a consumer exports: every outcome from the start, and lag only for the partitions it holds
(fakes, no I/O)."""

from kafka import TopicPartition
from prometheus_client import REGISTRY

from accounts_common.consumer import OUTCOMES, EventConsumer
from tests.support.consumer_fakes import NoDatabase

KEPT, TAKEN = TopicPartition("topic", 0), TopicPartition("topic", 1)


class Assigned:
    """A KafkaConsumer stand-in holding `partitions`, each 7 records behind."""

    def __init__(self, *partitions: TopicPartition) -> None:
        self.partitions = set(partitions)

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def highwater(self, partition: TopicPartition) -> int:
        return 10

    def position(self, partition: TopicPartition, timeout_ms: int) -> int:
        return 3


def consumer(group: str) -> EventConsumer:
    return EventConsumer(
        group=group,
        topics=("topic",),
        handlers={},
        pool=NoDatabase(),  # type: ignore[arg-type]
        bootstrap_servers="unused",
        inbox=False,
    )


def lag(group: str, partition: TopicPartition) -> float | None:
    labels = {"group": group, "topic": partition.topic, "partition": str(partition.partition)}
    return REGISTRY.get_sample_value("consumer_lag", labels)


def test_every_outcome_is_exported_at_zero_before_the_first_record():
    consumer("outcomes-at-zero")
    for outcome in OUTCOMES:
        labels = {"group": "outcomes-at-zero", "outcome": outcome}
        assert REGISTRY.get_sample_value("consumer_events_total", labels) == 0


def test_a_partition_given_to_another_worker_stops_being_reported():
    worker, kafka = consumer("lag-after-rebalance"), Assigned(KEPT, TAKEN)
    worker._report_lag(kafka)  # type: ignore[arg-type]
    assert lag("lag-after-rebalance", TAKEN) == 7

    kafka.partitions = {KEPT}
    worker._lag.reported_at = float("-inf")
    worker._report_lag(kafka)  # type: ignore[arg-type]

    assert lag("lag-after-rebalance", KEPT) == 7
    assert lag("lag-after-rebalance", TAKEN) is None
