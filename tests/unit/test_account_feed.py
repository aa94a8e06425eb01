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


class KafkaGoneMidRead:
    """A reader of a two-record partition whose broker goes away after the first record: kafka-python's
    poll() then answers nothing, again and again, and raises nothing. Each poll moves `now` on by its
    timeout, as the real one would have waited; after `max_polls` it fails, where the feed waited on."""

    def __init__(self, max_polls: int = 10_000) -> None:
        self.now, self.polls, self.max_polls, self.closed = 0.0, 0, max_polls, False
        self.tp = TopicPartition("identity.accounts.v1", 0)
        self.read = 0

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        pass

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {self.tp: 2}

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.read

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[ConsumerRecord]]:
        self.polls += 1
        assert self.polls <= self.max_polls, f"the snapshot still waits after {self.max_polls} empty polls"
        self.now += timeout_ms / 1000
        if self.polls > 1:
            return {}  # the broker is gone
        self.read = 1
        return {self.tp: [state_record()]}

    def close(self) -> None:
        self.closed = True


def test_kafka_gone_mid_snapshot_is_a_timeout_error_after_the_feeds_idle_limit_not_a_wait_without_end(
    monkeypatch,
):
    consumer = KafkaGoneMidRead()
    monkeypatch.setattr(account_feed, "create_reader", lambda *args, **kwargs: consumer)
    monkeypatch.setattr(account_feed, "monotonic", lambda: consumer.now, raising=False)
    feed = AccountFeed("127.0.0.1:9092", idle_timeout_s=30)
    with pytest.raises(KafkaTimeoutError) as timed_out:
        feed.snapshot()
    assert str(timed_out.value) == (
        "KafkaTimeoutError: account feed: no record of identity.accounts.v1 for 30 s with 1 partition(s) "
        "short of their end: is Kafka reachable?"
    )
    assert consumer.closed
    assert 30 <= consumer.now < 31  # it gave up at the limit, not before, not long after


def test_the_snapshots_idle_limit_has_a_default():
    assert AccountFeed("127.0.0.1:9092").idle_timeout_s == account_feed.SNAPSHOT_IDLE_TIMEOUT_S > 0
