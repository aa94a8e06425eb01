"""Dead letters' writing side: a consumer that gives up on a record puts it on `<group>.dlq`, with
headers that say where it came from and why (read back and replayed by `accounts_common.dlq`)."""

from collections.abc import Callable
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import MessageSizeTooLargeError, RecordListTooLargeError

from accounts_common.events import dead_letter_topic

DLQ_HEADER_PREFIX = "dlq."
ORIGINAL_TOPIC_HEADER = "dlq.original.topic"
REASON_HEADER = "dlq.reason"
FAILED_AT_HEADER = "dlq.failed.at"
VALUE_LEFT_OUT_HEADER = "dlq.value.left-out"
MAX_REASON_BYTES = 4000
# The broker's default message.max.bytes: a dead letter is a record the broker took plus headers, so
# its producer allows more than MAX_RECORD_BYTES, up to what the broker takes.
DEAD_LETTER_MAX_BYTES = 1_048_588
TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
SEND_TIMEOUT_S = 30


class DeadLetterWriter:
    """Puts a consumer group's failed records on `<group>.dlq`, with where they came from and why."""

    def __init__(self, group: str, producer_factory: Callable[[], KafkaProducer]) -> None:
        self.group = group
        self.producer_factory = producer_factory
        self._producer: KafkaProducer | None = None

    def write(self, record: ConsumerRecord, reason: str) -> None:
        """Write the dead letter and wait for Kafka's acknowledgement; KafkaError when it did not come.

        A record the broker took can be too large once the dead letter's headers are added: that
        letter goes without the value (the headers say where the record is), or it would be retried,
        its partition held, for good."""
        try:
            self._send(record, record.value, reason)
        except TOO_LARGE as error:
            size = len(record.value or b"")
            self._send(record, None, f"{reason} [the record's {size}-byte value is left out: {error}]")

    def _send(self, record: ConsumerRecord, value: bytes | None, reason: str) -> None:
        headers = list(record.headers or []) + [
            (ORIGINAL_TOPIC_HEADER, record.topic.encode()),
            ("dlq.original.partition", str(record.partition).encode()),
            ("dlq.original.offset", str(record.offset).encode()),
            ("dlq.consumer.group", self.group.encode()),
            (REASON_HEADER, reason.encode()[:MAX_REASON_BYTES]),
            (FAILED_AT_HEADER, datetime.now(UTC).isoformat().encode()),
        ]
        if value is None and record.value is not None:
            headers.append((VALUE_LEFT_OUT_HEADER, str(len(record.value)).encode()))
        if self._producer is None:
            self._producer = self.producer_factory()
        topic = dead_letter_topic(self.group)
        self._producer.send(topic, key=record.key, value=value, headers=headers).get(timeout=SEND_TIMEOUT_S)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
