"""A member kafka-python left "rebalancing" with no join in flight is made to join again after its poll;
one rebalancing with its join under way, or already wanting to rejoin, is left to kafka-python.
(The real Kafka case: tests/integration/test_consumer_rejoin.py.)"""

import pytest
from kafka import KafkaConsumer
from kafka.structs import MemberState
from prometheus_client import REGISTRY

from accounts_common.kafka import GroupMember, rejoin_if_stranded


class Join:
    def __init__(self, done: bool) -> None:
        self.is_done = done


class Coordinator:
    """kafka-python's group coordinator as far as the check reads it."""

    def __init__(self, state: MemberState, *, wants_rejoin: bool = False, join: Join | None = None) -> None:
        self.state, self.rejoin_needed, self._join_task = state, wants_rejoin, join

    def need_rejoin(self) -> bool:
        return self.rejoin_needed

    def request_rejoin(self) -> None:
        self.rejoin_needed = True


class Member:
    """A KafkaConsumer stand-in: kafka-python's coordinator is all the check reads."""

    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator


def rejoins(group: str) -> float:
    return REGISTRY.get_sample_value("consumer_stranded_rejoins_total", {"group": group}) or 0.0


@pytest.mark.parametrize("join", [None, Join(done=True)])
def test_a_rebalancing_member_with_no_join_in_flight_joins_again(join):
    coordinator = Coordinator(MemberState.REBALANCING, join=join)
    before = rejoins("stranded")

    assert rejoin_if_stranded(Member(coordinator), "stranded")  # type: ignore[arg-type]

    assert coordinator.need_rejoin()
    assert rejoins("stranded") == before + 1


@pytest.mark.parametrize(
    "coordinator",
    [
        Coordinator(MemberState.REBALANCING, join=Join(done=False)),  # the next poll takes it up
        Coordinator(MemberState.REBALANCING, wants_rejoin=True, join=Join(done=True)),  # joins again itself
        Coordinator(MemberState.STABLE),
        Coordinator(MemberState.UNJOINED),  # partitions assigned by hand: never joins
    ],
    ids=["join in flight", "rejoin wanted", "stable", "unjoined"],
)
def test_any_other_member_is_left_alone(coordinator):
    assert not rejoin_if_stranded(Member(coordinator), "left-alone")  # type: ignore[arg-type]
    assert coordinator.need_rejoin() == coordinator.rejoin_needed
    assert rejoins("left-alone") == 0


def test_a_consumer_without_kafka_pythons_coordinator_is_left_alone():
    assert not rejoin_if_stranded(object(), "no-coordinator")  # type: ignore[arg-type]


def test_the_services_members_check_themselves_after_each_poll(monkeypatch):
    """create_consumer's members (the EventConsumer's, the mailer's): kafka-python's poll, then the check."""
    monkeypatch.setattr(KafkaConsumer, "poll", lambda self, **options: {})
    coordinator = Coordinator(MemberState.REBALANCING, join=Join(done=True))
    member = GroupMember.__new__(GroupMember)  # its state only: no broker to connect to
    member._coordinator, member.config = coordinator, {"group_id": "stranded-worker"}

    assert member.poll(timeout_ms=500) == {}

    assert coordinator.need_rejoin()
    assert rejoins("stranded-worker") == 1
