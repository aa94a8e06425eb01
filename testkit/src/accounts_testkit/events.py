"""Reading topics in tests the way any internal system would: a plain kafka-python consumer, logged in
as the services are (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*; see accounts_common.kafka.KafkaLogin)."""

import json
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from accounts_common.kafka import login, position_of

# Generous: a test machine may be loaded (position_of fails past it rather than waiting without end).
POSITION_TIMEOUT_MS = 30_000


class TopicReader:
    """Reads every record written to the topics after it was created (no consumer group). It logs in
    with the process's KAFKA_* settings, in the clear when they are unset."""

    def __init__(self, bootstrap_servers: str, *topics: str) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **login()
        )
        try:
            self._start_at_the_end(topics)
        except BaseException:
            self.consumer.close()
            raise
        self.records: list[ConsumerRecord] = []

    def _start_at_the_end(self, topics: tuple[str, ...]) -> None:
        assert topics, "no topic to read"
        partitions = []
        for topic in topics:
            numbers = self.consumer.partitions_for_topic(topic)
            assert numbers, f"no partitions found for topic {topic}"
            partitions += [TopicPartition(topic, number) for number in sorted(numbers)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end()
        for partition in partitions:  # resolve "end" now, before anything new is written
            position_of(self.consumer, partition, POSITION_TIMEOUT_MS)

    def read_until(self, done, *, timeout: float, what: str) -> list[ConsumerRecord]:  # type: ignore[no-untyped-def]
        """Poll until `done(records so far)` is true; fail naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            for batch in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(batch)
        return self.records

    def events(self) -> list[dict[str, Any]]:
        """The records read so far, decoded as JSON; tombstones (a compacted topic's deletions) are
        left out: they hold no event."""
        return [json.loads(record.value) for record in self.records if record.value is not None]

    def close(self) -> None:
        self.consumer.close()
