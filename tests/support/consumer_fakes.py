"""Stand-ins for unit tests of the consumer runtime: records without a broker, a pool without a database."""

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from accounts_common.consumer import EventConsumer
from accounts_common.events import new_event


def user_registered_record(partition: TopicPartition, offset: int = 0) -> ConsumerRecord:
    """A valid UserRegistered event, as kafka-python hands it out at `offset` of `partition`."""
    account_id = str(uuid.uuid4())
    data = {"account_id": account_id, "email": "a@example.org", "registered_at": "2026-11-28T00:00:00+00:00"}
    event = new_event("UserRegistered", source="/tests", subject=account_id, data=data)
    return ConsumerRecord(
        topic=partition.topic,
        partition=partition.partition,
        leader_epoch=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"a",
        value=event.to_json().encode(),
        headers=[],
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        serialized_header_size=-1,
    )


class NoDatabase:
    """A pool for handlers that never touch their connection."""

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        yield None


class OnePartitionConsumer:
    """A KafkaConsumer stand-in holding one partition, read to its end, that accepts every commit;
    tests give it the poll (and whatever else) they exercise."""

    def __init__(self, partition: TopicPartition) -> None:
        self.partition, self.closed = partition, False

    def assignment(self) -> set[TopicPartition]:
        return {self.partition}

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def resume(self, *partitions: TopicPartition) -> None:
        pass

    def seek(self, partition: TopicPartition, offset: int) -> None:
        pass

    def commit(self, offsets: Any, timeout_ms: int | None = None) -> None:
        pass

    def highwater(self, partition: TopicPartition) -> int:
        return 1

    def position(self, partition: TopicPartition, timeout_ms: int) -> int:
        return 1

    def close(self, autocommit: bool) -> None:
        self.closed = True


def consumer_on(fake: object, **options: Any) -> EventConsumer:
    """An EventConsumer reading through `fake` (no broker), with a UserRegistered handler that does
    nothing, no database and no inbox; `options` add to or replace those."""
    settings: dict[str, Any] = {
        "group": "test",
        "topics": ("topic",),
        "handlers": {"UserRegistered": lambda conn, event, data: None},
        "pool": NoDatabase(),
        "bootstrap_servers": "unused:9092",
        "inbox": False,
        "consumer_factory": lambda *args, **kwargs: fake,
    }
    return EventConsumer(**(settings | options))
