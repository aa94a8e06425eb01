"""Stand-ins for unit tests of the consumer runtime: records without a broker, a pool without a database."""

import contextlib
import uuid
from collections.abc import Iterator

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

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
