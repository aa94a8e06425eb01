"""Offsets are committed at most every COMMIT_INTERVAL_S, and what is left when the consumer stops;
what a commit failed to save goes with the next one, each waiting a few seconds at most (fakes, no
I/O)."""

import threading
from typing import TypeVar

from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError

from accounts_common import offsets
from tests.support.consumer_fakes import consumer_on, user_registered_record

PARTITION = TopicPartition("topic", 0)
Fake = TypeVar("Fake", bound="OneRecordPerPoll")


class OneRecordPerPoll:
    """A KafkaConsumer stand-in handing out one record per poll, `count` in all, then stopping the run."""

    def __init__(self, count: int, stop: threading.Event) -> None:
        self.count, self.stop, self.polled = count, stop, 0
        self.commits: list[int] = []

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        if self.polled == self.count:
            self.stop.set()
            return {}
        self.polled += 1
        return {PARTITION: [user_registered_record(PARTITION, self.polled - 1)]}

    def commit(self, offsets, timeout_ms=None) -> None:  # type: ignore[no-untyped-def]
        self.commits.append(offsets[PARTITION].offset)

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    def highwater(self, partition: TopicPartition) -> int:
        return self.polled

    def position(self, partition: TopicPartition, timeout_ms: int) -> int:
        return self.polled

    def close(self, autocommit: bool) -> None:
        pass


def run_through(fake_type: type[Fake], count: int) -> Fake:
    """Run a consumer through a new `fake_type` handing out `count` records; the fake, once stopped."""
    stop = threading.Event()
    fake = fake_type(count, stop)
    consumer_on(fake, topics=(PARTITION.topic,)).run(stop)
    return fake


def test_records_handled_one_by_one_are_committed_once_per_interval_and_all_at_stop(monkeypatch):
    monkeypatch.setattr(offsets, "COMMIT_INTERVAL_S", 3600)
    fake = run_through(OneRecordPerPoll, 50)
    assert fake.commits == [1, 50], "the first record's at once, then the rest only when stopping"


class CommitTimesOutOnce(OneRecordPerPoll):
    """The same, but the first commit times out: the group coordinator did not answer in time."""

    def commit(self, offsets, timeout_ms=None) -> None:  # type: ignore[no-untyped-def]
        super().commit(offsets, timeout_ms)
        if len(self.commits) == 1:
            raise KafkaTimeoutError("Timeout waiting for future")


def test_offsets_a_commit_failed_to_save_are_committed_with_the_next_one(monkeypatch):
    """The partition's one record is handled, its commit times out, and nothing comes after it: its
    offset used to be dropped, leaving the group's committed offset behind for good (a quiet
    partition), so every later restart or rebalance delivered the record again."""
    fake = run_through(CommitTimesOutOnce, 1)
    assert fake.commits == [1, 1], "tried again at the next commit (here the one at stop)"


class CoordinatorGone(OneRecordPerPoll):
    """The same, with a group coordinator that never answers: each commit fails once its timeout is
    over, as kafka-python's does (its own default: the 30 s request timeout)."""

    def __init__(self, count: int, stop: threading.Event) -> None:
        super().__init__(count, stop)
        self.waited_ms: list[int | None] = []

    def commit(self, offsets, timeout_ms=None) -> None:  # type: ignore[no-untyped-def]
        self.waited_ms.append(timeout_ms)
        raise KafkaTimeoutError(f"Timeout waiting for future after {timeout_ms or 30_000} ms")


def test_a_commit_the_coordinator_does_not_answer_holds_the_loop_a_few_seconds_at_most():
    """Offsets a failed commit kept are tried again at every interval: each try must not hold the
    loop (and a SIGTERM) for kafka-python's 30 s request timeout while the coordinator is away."""
    fake = run_through(CoordinatorGone, 3)
    assert fake.waited_ms, "it did try to commit"
    assert all(waited is not None and waited <= 5_000 for waited in fake.waited_ms), fake.waited_ms
