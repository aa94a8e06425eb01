"""A fenced static member joins again as a new member once in a while, and otherwise stops with a
clear error: another consumer holds its instance id (fakes, no I/O)."""

import threading

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import FencedInstanceIdError
from kafka.structs import MemberState
from prometheus_client import REGISTRY

from accounts_common.kafka import Fences, GroupMember, InstanceFenced, fenced_by_heartbeat
from tests.support.consumer_fakes import OnePartitionConsumer, consumer_on, user_registered_record
from tests.support.workers import stopped_after

PARTITION = TopicPartition("topic", 0)


class FencedAfterJoin(OnePartitionConsumer):
    """A KafkaConsumer that hands out one record, then learns on commit that it was fenced."""

    def __init__(self) -> None:
        super().__init__(PARTITION)
        self.record = user_registered_record(PARTITION)

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        return {PARTITION: [self.record]}

    def commit(self, offsets, timeout_ms=None) -> None:  # type: ignore[no-untyped-def]
        raise FencedInstanceIdError("worker-1")


class FencedOnPoll(FencedAfterJoin):
    """A KafkaConsumer whose poll() raises the fencing: a heartbeat or a join refused
    FENCED_INSTANCE_ID, with nothing handled since, so no commit to learn it from."""

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        raise FencedInstanceIdError("worker-1")


class Members:
    """A consumer factory handing out `fakes` in turn, one per member the worker makes."""

    def __init__(self, *fakes: OnePartitionConsumer) -> None:
        self.fakes, self.made = list(fakes), 0

    def __call__(self, *args: object, **kwargs: object) -> OnePartitionConsumer:
        self.made += 1
        return self.fakes.pop(0)


def run_until_stopped(members: Members, stop: threading.Event) -> None:
    consumer_on(None, group="mailer", group_instance_id="worker-1", consumer_factory=members).run(stop)


@pytest.mark.parametrize("fenced", [FencedAfterJoin, FencedOnPoll], ids=["on commit", "on poll"])
def test_a_member_fenced_twice_in_a_row_stops_with_a_clear_error(fenced):
    first, second = fenced(), fenced()
    # A consumer that swallowed the fencing would run on: stopped after 5 s, it fails here.
    with (
        stopped_after(5) as stop,
        pytest.raises(InstanceFenced, match="another consumer joined as instance 'worker-1'"),
    ):
        run_until_stopped(Members(first, second), stop)
    assert first.closed and second.closed  # before: "Kafka unreachable, polling again", for good


class Quiet(OnePartitionConsumer):
    """A member that reads nothing and is fenced by nobody."""

    def __init__(self) -> None:
        super().__init__(PARTITION)
        self.polled = threading.Event()

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        self.polled.set()
        return {}


def test_a_member_fenced_once_joins_again_as_a_new_member_and_carries_on():
    fenced, rejoined = FencedOnPoll(), Quiet()
    members = Members(fenced, rejoined)
    worker = threading.Thread(target=run_until_stopped, args=(members, stop := threading.Event()))
    worker.start()
    try:
        assert rejoined.polled.wait(5), "the fenced member did not join again"
        assert worker.is_alive()  # before: it stopped, InstanceFenced, at the first fence
    finally:
        stop.set()
        worker.join(5)
    assert members.made == 2
    assert fenced.closed and rejoined.closed


def test_fences_allow_one_rejoin_a_window(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("accounts_common.kafka.time.monotonic", lambda: now[0])
    fences = Fences(window_s=300)
    assert fences.may_rejoin()
    now[0] += 299
    assert not fences.may_rejoin()  # a second fence within the window: another consumer holds the id
    now[0] += 300
    assert fences.may_rejoin()  # the window counts from the last fence


class Coordinator:
    """kafka-python's group coordinator as far as fenced_by_heartbeat reads it."""

    def __init__(self, state: MemberState, *, heartbeats: bool, wants_rejoin: bool = False) -> None:
        self.state, self._heartbeat_enabled, self._heartbeat_closed = state, heartbeats, False
        self.rejoin_needed = wants_rejoin

    def need_rejoin(self) -> bool:
        return self.rejoin_needed


class Member:
    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator


@pytest.mark.parametrize(
    ("coordinator", "fenced"),
    [
        (Coordinator(MemberState.STABLE, heartbeats=False), True),  # the heartbeat thread saw the fence
        (Coordinator(MemberState.STABLE, heartbeats=True), False),
        (Coordinator(MemberState.STABLE, heartbeats=False, wants_rejoin=True), False),  # about to join
        (Coordinator(MemberState.REBALANCING, heartbeats=False), False),  # joining
        (Coordinator(MemberState.UNJOINED, heartbeats=False), False),  # partitions assigned by hand
    ],
    ids=["fenced", "heartbeating", "rejoin wanted", "rebalancing", "unjoined"],
)
def test_a_stable_member_with_its_heartbeats_turned_off_was_fenced(coordinator, fenced):
    assert fenced_by_heartbeat(Member(coordinator)) is fenced  # type: ignore[arg-type]


def test_a_member_fenced_by_a_heartbeat_says_so_from_its_poll(monkeypatch):
    """kafka-python only turns the heartbeats off; the services' members raise it from the next poll."""
    monkeypatch.setattr(KafkaConsumer, "poll", lambda self, **options: {})
    member = GroupMember.__new__(GroupMember)  # its state only: no broker to connect to
    member._coordinator = Coordinator(MemberState.STABLE, heartbeats=False)  # type: ignore[assignment]
    member.config = {"group_id": "fenced-worker"}

    with pytest.raises(FencedInstanceIdError):
        member.poll(timeout_ms=500)


class FencedAsItStops(FencedAfterJoin):
    """A member that hands out one record (after the first poll's commit: the next is not due yet), is
    told to stop at its next poll, and learns from the commit that ends it that it was fenced."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop, self.polls = stop, 0

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        self.polls += 1
        if self.polls == 2:
            return {PARTITION: [self.record]}
        if self.polls > 2:
            self.stop.set()
        return {}


def test_a_member_fenced_by_its_last_commit_as_it_stops_joins_no_more():
    """Stopping, there is nothing to join again for: no new member, no rejoin counted."""
    stop = threading.Event()
    members = Members(FencedAsItStops(stop), Quiet())
    before = REGISTRY.get_sample_value("consumer_fenced_rejoins_total", {"group": "mailer"}) or 0.0
    run_until_stopped(members, stop)
    assert members.made == 1
    assert (REGISTRY.get_sample_value("consumer_fenced_rejoins_total", {"group": "mailer"}) or 0.0) == before
