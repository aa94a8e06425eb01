"""Reading state records in a bootstrap: bad records are skipped with a reason, never a crash, and a
position Kafka does not give is an error, never a wait without end."""

import json
import uuid
from importlib.resources import files

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaTimeoutError

from accounts_common.account_feed import _apply_state
from accounts_common.kafka import READER_TIMEOUT_MS, position_of
from accounts_common.outbox import FOLLOWS_EVENT_OFFSET_HEADER

EXAMPLE = files("accounts_common.events").joinpath("examples", "AccountState.json").read_bytes()
ACCOUNT_ID = uuid.UUID(json.loads(EXAMPLE)["account_id"])
FOLLOWS = [(FOLLOWS_EVENT_OFFSET_HEADER, b"41")]


def state_record(
    value: bytes | None = EXAMPLE, key: bytes | None = str(ACCOUNT_ID).encode(), headers=FOLLOWS
) -> ConsumerRecord:  # type: ignore[no-untyped-def]
    return ConsumerRecord("identity.accounts.v1", 0, -1, 7, 0, 0, key, value, headers, None, 0, 0, 0)


def test_a_state_is_taken_and_a_tombstone_removes_it():
    accounts: dict = {}  # type: ignore[type-arg]
    assert _apply_state(accounts, state_record())
    assert accounts[ACCOUNT_ID].email == "ana.silva@example.org" and accounts[ACCOUNT_ID].version == 2
    assert _apply_state(accounts, state_record(value=None))
    assert accounts == {}


@pytest.mark.parametrize(
    "record",
    [
        state_record(headers=[]),
        state_record(headers=[(FOLLOWS_EVENT_OFFSET_HEADER, b"soon")]),
        state_record(key=None),
        state_record(key=b"not-a-uuid"),
        state_record(value=b"{not json"),
        state_record(value=json.dumps({"account_id": str(ACCOUNT_ID), "verified": "perhaps"}).encode()),
    ],
    ids=["no-header", "bad-offset", "no-key", "bad-key", "not-json", "invalid-state"],
)
def test_a_bad_state_record_is_skipped(record, caplog):
    accounts: dict = {}  # type: ignore[type-arg]
    assert not _apply_state(accounts, record)
    assert accounts == {}
    assert "skipping invalid account state" in caplog.text


class SilentOnPositions:
    """A KafkaConsumer stand-in whose position() comes back empty, as kafka-python's does at its timeout."""

    def __init__(self) -> None:
        self.timeouts: list[int | None] = []

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None:
        self.timeouts.append(timeout_ms)
        return None


def test_a_position_kafka_does_not_tell_in_time_is_a_timeout_error():
    consumer = SilentOnPositions()
    with pytest.raises(KafkaTimeoutError, match=r"no position for identity.accounts.v1\[3\] within 10000 ms"):
        position_of(consumer, TopicPartition("identity.accounts.v1", 3))  # type: ignore[arg-type]
    assert consumer.timeouts == [READER_TIMEOUT_MS]
