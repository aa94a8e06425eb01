"""A consumer's bookkeeping of positions: the offsets handled but not committed yet (committed at most
every COMMIT_INTERVAL_S), and the lag gauge of the partitions it holds."""

import logging
import math
import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, FencedInstanceIdError, KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Gauge

from accounts_common.kafka import REFUSED

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "consumer_lag", "Records on the partition not processed yet", ["group", "topic", "partition"]
)
LAG_REPORT_INTERVAL_S = 2.0
# Offsets are committed at most this often (and when the consumer stops): a commit costs a round
# trip the broker's group coordinator holds for its append linger (5 ms), which a consumer taking
# one record at a time would pay per record. A crash redelivers at most this much more work, which
# the handlers' deduplication (the inbox, the mailer's claims) makes harmless.
COMMIT_INTERVAL_S = 1.0
# How long a commit waits for the group coordinator (kafka-python's default: its 30 s request
# timeout). Offsets a commit failed to save go with the next one, so while the coordinator is away
# each interval tries again: the loop, and a SIGTERM, must not wait half a minute each time.
COMMIT_TIMEOUT_MS = 5_000


class PendingCommits:
    """The next offset to commit per partition, since the last commit."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.offsets: dict[TopicPartition, int] = {}
        # -inf, not 0.0: monotonic time counts from boot, so 0.0 would put the first commit off
        # until the machine has been up for an interval.
        self.committed_at = -math.inf

    def clear(self) -> None:
        self.offsets.clear()

    def add(self, done: dict[TopicPartition, int]) -> None:
        self.offsets.update(done)

    def due_at(self) -> float | None:
        """When the next commit is due; None when there is nothing to commit."""
        return self.committed_at + COMMIT_INTERVAL_S if self.offsets else None

    def commit_if_due(self, consumer: KafkaConsumer) -> None:
        if time.monotonic() >= self.committed_at + COMMIT_INTERVAL_S:
            self.commit(consumer)

    def commit(self, consumer: KafkaConsumer, timeout_ms: int = COMMIT_TIMEOUT_MS) -> None:
        """Commit the offsets of what was handled since the last commit, for partitions still ours."""
        self.committed_at = time.monotonic()
        assigned = consumer.assignment()
        offsets = {
            partition: OffsetAndMetadata(offset, "", -1)
            for partition, offset in self.offsets.items()
            if partition in assigned
        }
        self.offsets.clear()
        if not offsets:
            return
        try:
            consumer.commit(offsets, timeout_ms=timeout_ms)
        except (FencedInstanceIdError, *REFUSED):
            raise  # not a passing failure: the consumer must stop
        except CommitFailedError as error:
            # The group moved on; the records come again and the inbox makes that harmless.
            log.warning("%s: offset commit failed: %s", self.group, error)
        except KafkaError as error:
            # The coordinator did not answer (an outage, a timeout): the next commit carries these
            # too, or a partition that stays quiet would keep its old committed offset for good.
            log.warning("%s: offset commit failed, tried again with the next one: %s", self.group, error)
            for partition, offset in offsets.items():
                self.offsets.setdefault(partition, offset.offset)


class LagReport:
    """Sets the lag gauge of every assigned partition, at most every LAG_REPORT_INTERVAL_S."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.reported_at = -math.inf
        self.reported: set[TopicPartition] = set()

    def update(self, consumer: KafkaConsumer, held_at: Callable[[TopicPartition], int | None]) -> None:
        """`held_at` gives a partition's position when a retry holds it back (None: the consumer's)."""
        now = time.monotonic()
        if now < self.reported_at + LAG_REPORT_INTERVAL_S:
            return
        self.reported_at = now
        assignment = consumer.assignment()
        for gone in self.reported - assignment:
            # A partition another worker took now: its last figure here would be added forever.
            CONSUMER_LAG.remove(self.group, gone.topic, str(gone.partition))
        self.reported &= assignment
        for partition in assignment:
            highwater = consumer.highwater(partition)
            try:
                position = held_at(partition)
                if position is None:
                    position = consumer.position(partition, timeout_ms=0)
            except KafkaError:
                continue  # a position being reset or a partition just revoked: report it next time
            if highwater is not None and position is not None:
                CONSUMER_LAG.labels(self.group, partition.topic, str(partition.partition)).set(
                    max(0, highwater - position)
                )
                self.reported.add(partition)
