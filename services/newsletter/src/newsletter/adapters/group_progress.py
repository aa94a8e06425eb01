"""How far a consumer group has handled a topic, read from Kafka: the offsets the group committed
(only after its handlers' transactions) against the topic's ends at a moment."""

import logging

from kafka import KafkaConsumer, TopicPartition

from accounts_common.kafka import READER_TIMEOUT_MS, create_reader, topic_partitions

log = logging.getLogger(__name__)


class GroupProgress:
    """The progress of `group` on `topic`, asked of Kafka without joining the group."""

    def __init__(self, bootstrap_servers: str, *, group: str, topic: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.topic = topic
        self._reader: KafkaConsumer | None = None

    def ends(self) -> dict[TopicPartition, int]:
        """Per partition, the offset the topic's next record will have: what it holds now ends there."""
        reader = self._reader_()
        return dict(reader.end_offsets(topic_partitions(reader, self.topic), timeout_ms=READER_TIMEOUT_MS))

    def unhandled(self, ends: dict[TopicPartition, int]) -> int:
        """How many of the records before `ends` the group has not committed as handled. A partition
        the group never committed counts from its first record still kept (retention drops records)."""
        reader = self._reader_()
        firsts = reader.beginning_offsets(list(ends), timeout_ms=READER_TIMEOUT_MS)
        committed = {tp: reader.committed(tp, timeout_ms=READER_TIMEOUT_MS) or 0 for tp in ends}
        return sum(max(0, end - max(committed[tp], firsts[tp])) for tp, end in ends.items())

    def close(self) -> None:
        """Drop the connection (after a failure, or at the end): the next question opens another."""
        if self._reader is not None:
            reader, self._reader = self._reader, None
            try:
                reader.close(autocommit=False)
            except Exception:  # noqa: BLE001 - a broken connection is dropped whatever close says
                log.debug("closing the progress reader of %s raised", self.group, exc_info=True)

    def _reader_(self) -> KafkaConsumer:
        if self._reader is None:
            client_id = f"{self.group}-progress"
            self._reader = create_reader(self.bootstrap_servers, client_id=client_id, group_id=self.group)
        return self._reader
