"""Topics in tests: the accounts test kit's reader (testkit/), kept importable from here, and a
publisher of events as the services publish them."""

from kafka import KafkaProducer

from accounts_common.events import CloudEvent
from accounts_testkit.events import TopicReader

__all__ = ["TopicReader", "publish_events"]


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
