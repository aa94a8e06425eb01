"""Topics in tests: the accounts test kit's reader (testkit/), kept importable from here, and a
publisher of events as the services publish them."""

from collections.abc import Callable

from kafka import KafkaProducer

from accounts_common.events import CloudEvent
from accounts_testkit.events import TopicReader

__all__ = ["TopicReader", "publish_events", "publish_on_every_partition"]


def publish_events(kafka: str, topic: str, events: list[CloudEvent], copies: int = 1) -> None:
    """Publish each event `copies` times in a row (a redelivery), keyed by its subject, and wait."""
    producer = KafkaProducer(bootstrap_servers=kafka, linger_ms=5)
    try:
        for event in events:
            for _ in range(copies):
                producer.send(
                    topic,
                    key=event.subject.encode(),
                    value=event.to_json().encode(),
                    headers=event.content_headers(),
                )
        producer.flush(30)
    finally:
        producer.close()


def publish_on_every_partition(kafka: str, topic: str, new: Callable[[], CloudEvent]) -> list[CloudEvent]:
    """Publish a new event (`new()`) to each partition of `topic`, keyed by its subject, and wait;
    the events, in partition order."""
    producer = KafkaProducer(bootstrap_servers=kafka, linger_ms=5)
    try:
        partitions = sorted(producer.partitions_for(topic))
        events = [new() for _ in partitions]
        for partition, event in zip(partitions, events, strict=True):
            producer.send(
                topic,
                key=event.subject.encode(),
                value=event.to_json().encode(),
                headers=event.content_headers(),
                partition=partition,
            )
        producer.flush(30)
        return events
    finally:
        producer.close()
