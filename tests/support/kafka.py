"""Topics in tests: the accounts test kit's reader (testkit/), kept importable from here, and a
publisher of events as the services publish them (their producer, keyed by subject)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kafka import KafkaProducer

from accounts_common.events import CloudEvent
from accounts_common.kafka import create_producer
from accounts_testkit.events import TopicReader

__all__ = ["TopicReader", "publish_events", "publish_on_every_partition"]


def publish_events(kafka: str, topic: str, events: list[CloudEvent], copies: int = 1) -> None:
    """Publish each event `copies` times in a row (a redelivery), keyed by its subject, and wait."""
    with _producer(kafka) as producer:
        for event in events:
            for _ in range(copies):
                _send(producer, topic, event)


def publish_on_every_partition(kafka: str, topic: str, new: Callable[[], CloudEvent]) -> list[CloudEvent]:
    """Publish a new event (`new()`) to each partition of `topic`, keyed by its subject, and wait;
    the events, in partition order."""
    with _producer(kafka) as producer:
        partitions = sorted(producer.partitions_for(topic))
        events = [new() for _ in partitions]
        for partition, event in zip(partitions, events, strict=True):
            _send(producer, topic, event, partition)
    return events


@contextmanager
def _producer(kafka: str) -> Iterator[KafkaProducer]:
    """The services' producer (their Kafka login included), flushed before it closes."""
    producer = create_producer(kafka, client_id="tests")
    try:
        yield producer
        producer.flush(30)
    finally:
        producer.close()


def _send(producer: KafkaProducer, topic: str, event: CloudEvent, partition: int | None = None) -> None:
    producer.send(
        topic,
        key=event.subject.encode(),
        value=event.to_json().encode(),
        headers=event.content_headers(),
        partition=partition,
    )
