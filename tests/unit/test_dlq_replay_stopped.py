"""A replay Kafka stops part way says how many letters went back before: the mailer audits those."""

from types import SimpleNamespace

import pytest
from kafka import TopicPartition

from accounts_common import dlq
from accounts_common.dead_letter_writer import ORIGINAL_TOPIC_HEADER

WHERE = TopicPartition("mailer.dlq", 0)


class Send:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.exception = None if ok else TimeoutError("no acknowledgement")

    def succeeded(self) -> bool:
        return self.ok


class Producer:
    """Kafka acknowledges every letter but the second."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, topic: str, **_record: object) -> Send:
        self.sent += 1
        return Send(ok=self.sent != 2)

    def flush(self, timeout: float) -> None:
        pass


class Reader:
    """Three dead letters in one poll; nothing is committed after a failed batch."""

    def __init__(self) -> None:
        self.committed: dict[TopicPartition, object] = {}

    def position(self, partition: TopicPartition, timeout_ms: int) -> int:
        return 0

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[SimpleNamespace]]:
        headers = [(ORIGINAL_TOPIC_HEADER, b"identity.codes.v1")]
        return {WHERE: [SimpleNamespace(offset=n, key=b"k", value=b"{}", headers=headers) for n in range(3)]}

    def commit(self, offsets: dict[TopicPartition, object]) -> None:
        self.committed.update(offsets)


def test_a_stopped_replay_counts_the_letters_kafka_took_and_commits_none():
    reader = Reader()
    with pytest.raises(dlq.ReplayFailed) as stopped:
        dlq._replay_until_caught_up(reader, Producer(), {WHERE: 3}, None)  # type: ignore[arg-type]
    assert stopped.value.replayed == 2
    assert str(stopped.value) == "replay stopped: 1 dead letter(s) not re-published (no acknowledgement)"
    assert reader.committed == {}  # the next run re-publishes all three; consumers skip the copies
