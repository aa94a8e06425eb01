"""Reading state records in a bootstrap: bad records are skipped with a reason, never a crash, a
position Kafka does not give is an error, never a wait without end, and Kafka refusing the feed's
login or ACLs is named as such (kafka-python's own exceptions: the local broker refuses nothing)."""

import json
import uuid
from importlib.resources import files

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    KafkaError,
    KafkaTimeoutError,
)

from accounts_common import account_feed
from accounts_common.account_feed import AccountFeed, _apply_state
from accounts_common.kafka import READER_TIMEOUT_MS, KafkaNotAuthorized, position_of
from accounts_common.outbox import FOLLOWS_EVENT_OFFSET_HEADER
from tests.support.kafka_refusals import refusal_name, refusals

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


REFUSALS = refusals("identity.accounts.v1", "accounts-bootstrap")
SAYS = (
    r"^account feed: Kafka (does not authorize this client .*grant its ACLs|refused the login of this client)"
)


class RefusingReader:
    """A reader on which Kafka refuses whatever is asked (the local broker has no ACLs to refuse)."""

    def __init__(self, error: KafkaError) -> None:
        self.error = error

    def partitions_for_topic(self, topic: str) -> set[int]:
        raise self.error

    def close(self) -> None:
        pass


def refused_as_made(error: KafkaError):  # type: ignore[no-untyped-def]
    def create_reader(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    return create_reader


@pytest.mark.parametrize("error", REFUSALS, ids=refusal_name)
@pytest.mark.parametrize("where", ["as-made", "when-asked"])
@pytest.mark.parametrize("step", ["snapshot", "follow"])
def test_a_refusal_is_named_and_logged_as_an_error_not_taken_for_an_outage(
    step, where, error, monkeypatch, caplog
):
    reader = refused_as_made(error) if where == "as-made" else lambda *args, **kwargs: RefusingReader(error)
    monkeypatch.setattr(account_feed, "create_reader", reader)
    feed = AccountFeed("127.0.0.1:9092")
    with pytest.raises(KafkaNotAuthorized, match=SAYS) as refused:
        feed.snapshot() if step == "snapshot" else next(feed.follow({}))
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert errors == [str(refused.value)]


class ReaderSeeingNoTopic(RefusingReader):
    """What a reader sees of a topic that is missing, or that an ACL hides: Kafka lists no partitions."""

    def __init__(self) -> None:
        pass

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return None


@pytest.mark.parametrize("step", ["snapshot", "follow"])
def test_a_topic_kafka_does_not_list_is_named_with_both_causes(step, monkeypatch):
    """Kafka answers the same for a topic that does not exist and one its ACLs hide from this login
    (no Describe): the message names both, so that an operator does not hunt for a topic that is there."""
    monkeypatch.setattr(account_feed, "create_reader", lambda *args, **kwargs: ReaderSeeingNoTopic())
    feed = AccountFeed("127.0.0.1:9092", topic_prefix="staging.")
    with pytest.raises(LookupError) as missing:
        feed.snapshot() if step == "snapshot" else next(feed.follow({}))
    topic = "staging." + ("identity.accounts.v1" if step == "snapshot" else "identity.account-events.v1")
    assert str(missing.value) == (
        f"Kafka lists no topic {topic}: it does not exist, or an ACL does not let this login describe it"
    )
