"""The dead letters' Kafka clients are closed on every path: the mailer's web lists and replays them on
each support request, so a reader left open when its producer cannot be made is a leak per request."""

import pytest
from kafka.errors import KafkaTimeoutError

from accounts_common import dlq

NO_PRODUCER = KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1")


class Reader:
    """A dead-letter reader that knows one partition and records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def close(self, autocommit: bool = True) -> None:
        self.closed = True


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Reader:
    made = Reader()

    def no_producer(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise NO_PRODUCER

    monkeypatch.setattr(dlq, "create_reader", lambda *args, **kwargs: made)
    monkeypatch.setattr(dlq, "create_producer", no_producer)
    return made


def test_replaying_one_letter_closes_its_reader_when_no_producer_can_be_made(reader: Reader):
    with pytest.raises(KafkaTimeoutError):
        dlq.replay_letter("127.0.0.1:1", "mailer", 0, 0)
    assert reader.closed


def test_replaying_all_closes_its_reader_when_no_producer_can_be_made(reader: Reader):
    with pytest.raises(KafkaTimeoutError):
        dlq.replay("127.0.0.1:1", "mailer")
    assert reader.closed
