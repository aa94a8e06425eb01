"""Do group members with short polls always come back from a rejoin? (kafka-python 3.0.12, real Kafka.)

Each round makes a fresh topic and group, starts members the way the services build them
(create_consumer) and polls each in its own thread like a worker: `poll(POLL_MS)`, then `--work`
seconds of "handling" before the next poll. Then it triggers a rejoin of the group's leader:

- `partitions`: N members settle, the topic gets a partition more and the leader's next metadata
  refresh (asked at once here, instead of kafka-python's 5 minutes) sees it: the leader rejoins and
  waits for the others to rejoin too, which spans several polls.
- `new-topic`: one member subscribes to a topic it has no metadata for yet, as a worker started right
  after its topic was created: its first join assigns nothing and the metadata that follows makes it
  rejoin (what `test_rewind_command`'s member met).

A round passes when, within SETTLE_S, every member is stable, heartbeating since the trigger, and the
members hold every partition between them. A member left out is reported with kafka-python's view of
it: a member that is not stable, does not want to rejoin and has no join in flight is silent for good.
Members poll as create_consumer's do (GroupMember: after each poll, a member kafka-python left out joins
again); `--bare` polls through kafka-python's own poll, without that check.
Figures, never pass/fail. Run with `.venv/bin/python -m bench.kafka_group_rejoin [--rounds 20] [--bare]`.
"""

import argparse
import functools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.structs import MemberState

from accounts_common.config import kafka_bootstrap_servers
from accounts_common.kafka import create_admin, create_consumer

SETTLE_S = 30.0  # three 10 s sessions: a member the broker removed has had time to join again


class Member:
    """A consumer polled in its own thread like a worker's loop."""

    def __init__(self, consumer: KafkaConsumer, poll_ms: int, work_s: float, bare: bool) -> None:
        self.consumer = consumer
        # create_consumer's poll, with its check (GroupMember), or kafka-python's own
        self.poll = functools.partial(KafkaConsumer.poll, consumer) if bare else consumer.poll
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._loop, args=(poll_ms, work_s), daemon=True)
        self.thread.start()

    def _loop(self, poll_ms: int, work_s: float) -> None:
        while not self.stop.is_set():
            try:
                self.poll(timeout_ms=poll_ms)
            except Exception as error:  # noqa: BLE001 - a figure of the bench, not its end
                self.errors.append(error)
            self.stop.wait(work_s)

    def assignment(self) -> set[TopicPartition]:
        return set(self.consumer.assignment())

    def healthy_since(self, since: float) -> bool:
        coordinator = self.consumer._coordinator
        return coordinator.state is MemberState.STABLE and coordinator.heartbeat.last_receive > since

    def view(self) -> str:
        """kafka-python's state of the member: why it is not in the group."""
        coordinator = self.consumer._coordinator
        task = coordinator._join_task
        silent = (
            coordinator.state is not MemberState.STABLE
            and not coordinator.need_rejoin()
            and (task is None or task.is_done)
        )
        return (
            f"state={coordinator.state} leader={coordinator._is_leader} "
            f"need_rejoin={coordinator.need_rejoin()} "
            f"join_in_flight={task is not None and not task.is_done} "
            f"last_heartbeat={time.monotonic() - coordinator.heartbeat.last_receive:.1f}s ago "
            f"assignment={sorted(p.partition for p in self.assignment())}" + (" SILENT" if silent else "")
        )

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.consumer.close(autocommit=False)


def settled(members: list[Member], partitions: int, since: float) -> bool:
    held = set().union(*(member.assignment() for member in members))
    return len(held) == partitions and all(member.healthy_since(since) for member in members)


def views(members: list[Member]) -> str:
    return "; ".join(f"member {i}: {member.view()}" for i, member in enumerate(members))


def refreshed(member: Member, topic: str) -> bool:
    """Whether the member's metadata has the topic's second partition; if not, ask for it again (a
    refresh can answer before the broker's own metadata has it)."""
    cluster = member.consumer._client.cluster
    if len(cluster.partitions_for_topic(topic) or ()) == 2:
        return True
    cluster.request_update()
    return False


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def one_round(
    kafka: str, scenario: str, members_n: int, poll_ms: int, work_s: float, bare: bool
) -> tuple[str, float]:
    """The round's outcome ("ok", or what went wrong) and how long the group took to settle."""
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"bench.rejoin.{suffix}", f"bench-rejoin-{suffix}"
    admin = create_admin(kafka, client_id="bench-rejoin")
    members: list[Member] = []
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        if scenario == "new-topic":
            members = [Member(create_consumer(kafka, group_id=group, topics=(topic,)), poll_ms, work_s, bare)]
            triggered, partitions = time.monotonic(), 1
        else:
            members = [
                Member(create_consumer(kafka, group_id=group, topics=(topic,)), poll_ms, work_s, bare)
                for _ in range(members_n)
            ]
            if not wait_until(lambda: settled(members, 1, 0.0), SETTLE_S):
                return "never settled before the trigger: " + views(members), SETTLE_S
            admin.create_partitions({topic: NewPartitions(total_count=2)})
            triggered, partitions = time.monotonic(), 2
            if not wait_until(lambda: all(refreshed(member, topic) for member in members), SETTLE_S):
                return "the new partition never reached a member's metadata", SETTLE_S
        ok = wait_until(lambda: settled(members, partitions, triggered), SETTLE_S)
        took = time.monotonic() - triggered
        if ok:
            return "ok", took
        return views(members), took
    finally:
        for member in members:
            member.close()
        admin.delete_topics([topic])
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("partitions", "new-topic"), default="partitions")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--poll-ms", type=int, default=500)
    parser.add_argument("--work", type=float, default=0.2, help="seconds between two polls (handling)")
    parser.add_argument("--bare", action="store_true", help="kafka-python's own poll, no check")
    args = parser.parse_args()
    outcomes: Counter[str] = Counter()
    for number in range(1, args.rounds + 1):
        outcome, took = one_round(
            kafka_bootstrap_servers(), args.scenario, args.members, args.poll_ms, args.work, args.bare
        )
        silent = "SILENT" in outcome
        outcomes["silent" if silent else "ok" if outcome == "ok" else "other"] += 1
        print(f"round {number:3}: {took:5.1f}s {outcome}", flush=True)
    members = 1 if args.scenario == "new-topic" else args.members
    print(
        f"{args.scenario}, {members} member(s), poll {args.poll_ms} ms"
        f" + {args.work} s between polls{', bare kafka-python' if args.bare else ''}: "
        f"{args.rounds} rounds, {outcomes['ok']} settled, {outcomes['silent']} with a silent member, "
        f"{outcomes['other']} otherwise unsettled"
    )


if __name__ == "__main__":
    main()
