"""Kafka clients configured the way every service needs them, and what kafka-python needs helping with."""

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    AuthorizationError,
    FencedInstanceIdError,
    KafkaError,
    KafkaTimeoutError,
    SaslAuthenticationFailedError,
)
from kafka.structs import MemberState
from prometheus_client import Counter

from accounts_common.config import FromEnvironment, load_from_env, setting
from accounts_common.process import MustStop

log = logging.getLogger(__name__)

STRANDED_REJOINS = Counter(
    "consumer_stranded_rejoins_total", "Joins kafka-python finished but never took up, made again", ["group"]
)
FENCED_REJOINS = Counter(
    "consumer_fenced_rejoins_total", "Static members fenced once that joined again as new members", ["group"]
)

# Below the broker's default message.max.bytes (1,048,588), so an oversized record is refused by
# the producer before anything is sent, rather than by the broker after later records went out.
MAX_RECORD_BYTES = 1_000_000
# kafka-python's own metrics (sensors updated on every request and record), which nothing here reads:
# our figures are Prometheus's. Off, a consumer spends about 8 % less CPU per record.
CLIENT_METRICS = False
METADATA_WAIT_S = 10.0  # before a consumer's first poll, for the topics' partitions (see await_partitions)
# Every consumer here commits offsets itself (after the work) and starts, without one, at the earliest.
CONSUMER_BASICS = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "metrics_enabled": CLIENT_METRICS,
}
# What a reader (an operator's request, a late consumer's start) waits for each answer from Kafka:
# under gunicorn's 30 s worker timeout, so a silent broker is a 503, not a killed worker.
READER_TIMEOUT_MS = 10_000
PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")


def protocol(text: str) -> str:
    if text.upper() not in PROTOCOLS:
        raise ValueError(f"must be one of {', '.join(PROTOCOLS)}")
    return text.upper()


@dataclasses.dataclass(frozen=True)
class KafkaLogin(FromEnvironment):
    """How every client of a process reaches the cluster (KAFKA_*): in the clear by default; with
    SASL_PLAINTEXT or SASL_SSL, as a SCRAM user (a Strimzi KafkaUser, its password from its Secret)."""

    env_prefix = "KAFKA"
    security_protocol: str = setting("PLAINTEXT", parse=protocol)
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""  # the CA of the brokers' certificates (SSL, SASL_SSL); empty: the system's

    def client_settings(self) -> dict[str, Any]:
        """kafka-python's settings for it."""
        settings: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            if not (self.sasl_username and self.sasl_password):
                raise ValueError("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are needed with SASL")
            settings |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        if self.ssl_cafile:
            settings["ssl_cafile"] = self.ssl_cafile
        return settings


@functools.cache
def login() -> dict[str, Any]:
    """This process's KafkaLogin, read from the environment once."""
    return load_from_env(KafkaLogin, "KAFKA", warn_unknown=False).client_settings()


# The cluster refusing who we are (a login) or what we do (an ACL: topic, group, cluster, ...):
# settings an operator must fix, not an outage to wait out.
REFUSED = (AuthorizationError, SaslAuthenticationFailedError)


class KafkaNotAuthorized(MustStop):
    """Kafka refused this process's login or an operation it needs."""


def not_authorized(
    client: str, error: KafkaError, *, then: str = "stopping, a restart tries again"
) -> KafkaNotAuthorized:
    """The error to stop with: what Kafka refused, as whom, what to fix, and `then` what happens."""
    user = login().get("sasl_plain_username")
    who = f"the user {user!r}" if user else "this client (no KAFKA_SASL_USERNAME: anonymous)"
    if isinstance(error, SaslAuthenticationFailedError):
        fix = f"refused the login of {who}: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
    else:
        fix = f"does not authorize {who}: grant its ACLs (deploy/k8s/kafka-users.yaml)"
    return KafkaNotAuthorized(f"{client}: Kafka {fix}; {then} ({type(error).__name__}: {error})")


def create_producer(
    bootstrap_servers: str,
    *,
    client_id: str,
    max_request_size: int = MAX_RECORD_BYTES,
    batch_size: int = 16_384,
) -> KafkaProducer:
    """An idempotent producer: acks from all replicas, retries that neither duplicate nor reorder.
    `batch_size`: bytes per partition batch (Kafka's default; a bulk producer wants more)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_block_ms=10_000,
        request_timeout_ms=10_000,
        delivery_timeout_ms=30_000,
        reconnect_backoff_max_ms=2_000,
        max_request_size=max_request_size,
        batch_size=batch_size,
        metrics_enabled=CLIENT_METRICS,
        **login(),
    )


def create_admin(bootstrap_servers: str, *, client_id: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=client_id, **login())


def create_consumer(
    bootstrap_servers: str,
    *,
    group_id: str,
    topics: tuple[str, ...],
    group_instance_id: str | None = None,
    session_timeout_ms: int = 10_000,
    max_poll_records: int = 200,
    max_poll_interval_ms: int = 300_000,
) -> KafkaConsumer:
    """A group member that commits offsets itself, only after the work is done.

    With a `group_instance_id` it is a static member (KIP-345): restarted under the same id, it gets
    its partitions back at once instead of waiting for the group to expire its previous session.
    A member that takes longer than `max_poll_interval_ms` between two polls leaves the group.
    Its polls bring it back into the group when kafka-python left it out (GroupMember).
    """
    return GroupMember(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        max_poll_records=max_poll_records,
        max_poll_interval_ms=max_poll_interval_ms,
        reconnect_backoff_max_ms=2_000,
        group_instance_id=group_instance_id,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=min(3_000, session_timeout_ms // 3),
        **CONSUMER_BASICS,
        **login(),
    )


def create_reader(bootstrap_servers: str, *, client_id: str, group_id: str | None = None) -> KafkaConsumer:
    """A consumer that reads assigned partitions from the earliest offset and never commits on its
    own; with a `group_id`, its commits mark how far it got. Each answer is awaited READER_TIMEOUT_MS."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        group_id=group_id,
        bootstrap_timeout_ms=READER_TIMEOUT_MS,
        request_timeout_ms=READER_TIMEOUT_MS,
        **CONSUMER_BASICS,
        **login(),
    )


def position_of(
    consumer: KafkaConsumer, partition: TopicPartition, timeout_ms: int = READER_TIMEOUT_MS
) -> int:
    """The offset the consumer reads next on `partition`: KafkaTimeoutError when Kafka has not told
    within `timeout_ms` (kafka-python's own position() waits without end by default)."""
    position = consumer.position(partition, timeout_ms=timeout_ms)
    if position is None:
        raise KafkaTimeoutError(
            f"no position for {partition.topic}[{partition.partition}] within {timeout_ms} ms"
        )
    return int(position)


class UnlistedTopic(LookupError):
    """Kafka lists no such topic: it does not exist, or this login may not describe it."""


def topic_partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions; UnlistedTopic when Kafka lists none (an ACL hides a topic as absence)."""
    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        raise UnlistedTopic(
            f"Kafka lists no topic {topic}: it does not exist, or an ACL does not let this login describe it"
        )
    return [TopicPartition(topic, number) for number in sorted(numbers)]


def await_partitions(consumer: KafkaConsumer, topics: tuple[str, ...], stop: threading.Event) -> None:
    """Wait, at most METADATA_WAIT_S, until the client knows the topics' partitions.

    The first poll joins the group. A leader that does not know the partitions yet assigns nobody
    anything ("No partition metadata for topic"), seen at every start of a worker, and kafka-python
    then relies on noticing the metadata change to join again; were that missed, the worker would
    idle with no partitions. The client's background loop fetches the metadata on its own; waiting
    for it here is done without a request of ours, which could block with no broker answering.
    """
    cluster = getattr(consumer, "_cluster", None)
    if cluster is None:
        return
    deadline = time.monotonic() + METADATA_WAIT_S
    while not stop.is_set() and time.monotonic() < deadline:
        if all(cluster.partitions_for_topic(topic) for topic in topics):
            return
        stop.wait(0.02)
    log.warning("consumer: no partitions known yet for %s; joining the group anyway", ", ".join(topics))


def drop_parked_fetches(consumer: KafkaConsumer, partition: TopicPartition) -> None:
    """Forget records kafka-python parked for the paused partition: the seek makes them obsolete.

    kafka-python 3.0.12 parks data fetched for a paused partition and stops fetching it until
    the data is restored, but restores it only when its in-line slot is None, while a drained
    batch can sit there for good: the resumed partition would then never be fetched again.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    for parked in ("_paused_partition_records", "_paused_completed_fetches"):
        getattr(fetcher, parked, {}).pop(partition, None)


def rejoin_if_stranded(consumer: KafkaConsumer, group: str) -> bool:
    """Have the next poll join the group again if kafka-python left the member out of it; True if so.

    kafka-python 3.0.12 runs a join (JoinGroup, then SyncGroup) as a task that each poll awaits for
    its own timeout at most, and takes the task's result only while a rejoin is still wanted. A
    leader rejoining for new metadata (a topic's partitions appear or grow) has the task itself
    clear that want: a task ending between two polls is then never taken up. The member stays
    "rebalancing" with its heartbeats off and its assignment not applied; the broker drops it after
    its session and it never joins again (bench/kafka_group_rejoin.py). Called after a poll, when no
    join of the caller's is running: a rebalancing member with no join in flight is such a member.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or coordinator.state is not MemberState.REBALANCING or coordinator.need_rejoin():
        return False
    task = getattr(coordinator, "_join_task", None)
    if task is not None and not task.is_done:
        return False
    coordinator.request_rejoin()
    STRANDED_REJOINS.labels(group).inc()
    log.warning("%s: kafka-python left this member out of its group after a rejoin; joining again", group)
    return True


def fenced_by_heartbeat(consumer: KafkaConsumer) -> bool:
    """Whether a heartbeat came back FENCED_INSTANCE_ID. kafka-python 3.0.12 then only turns the
    heartbeats off: the member, still "stable", would fetch its partitions on without a word, beside
    the consumer that took its instance id, until a commit of its own failed."""
    coordinator = getattr(consumer, "_coordinator", None)
    return (
        coordinator is not None
        and coordinator.state is MemberState.STABLE
        and not coordinator.need_rejoin()
        and not getattr(coordinator, "_heartbeat_enabled", True)
        and not getattr(coordinator, "_heartbeat_closed", False)
    )


class InstanceFenced(MustStop):
    """Another consumer uses this one's static instance id: this one must stop."""


# A static member fenced twice within this long is taken to share its instance id with another consumer.
FENCE_WINDOW_S = 300.0


class Fences:
    """Whether a static member just fenced may join again as a new member: the first time in a window.

    kafka-python 3.0.12 can fence a member with its own earlier id: after a broker paused past the
    session timeout (`make chaos`, broker-paused-10s), a JoinGroup came back FENCED_INSTANCE_ID with
    no other consumer holding the id, most likely sent under a member id that an answer to a request
    of the old generation had put back (the Java client fixed its like, KAFKA-9823, by keeping the
    generation each request was sent with). A join under no id takes the instance id back. Two
    consumers that really share one fence each other within seconds: the second fence in the window
    is theirs (InstanceFenced)."""

    def __init__(self, window_s: float = FENCE_WINDOW_S) -> None:
        self.window_s = window_s
        self._last: float | None = None

    def may_rejoin(self) -> bool:
        now, last = time.monotonic(), self._last
        self._last = now
        return last is None or now - last >= self.window_s


def rejoin_when_fenced(
    group: str, instance_id: str | None, run: Callable[[], None], stop: threading.Event
) -> None:
    """Run `run` (one consumer's life in `group`) again as a new member when it is fenced the first
    time in a window (Fences); InstanceFenced when fenced again."""
    fences = Fences()
    while True:
        try:
            return run()
        except FencedInstanceIdError:
            if stop.is_set():  # by its last commit, as it stops: a new member would only join to leave
                return
            if not fences.may_rejoin():
                raise InstanceFenced(
                    f"{group}: another consumer joined as instance {instance_id!r} and took this one's "
                    "partitions; give each worker its own instance id"
                ) from None
            FENCED_REJOINS.labels(group).inc()
            log.warning("%s: fenced as instance %r; joining again as a new member", group, instance_id)


class GroupMember(KafkaConsumer):
    """A KafkaConsumer that, after each poll, has the next one join again if kafka-python left it out
    of its group (rejoin_if_stranded)."""

    def poll(
        self, timeout_ms: int = 0, max_records: int | None = None, update_offsets: bool = True
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        records = super().poll(timeout_ms=timeout_ms, max_records=max_records, update_offsets=update_offsets)
        rejoin_if_stranded(self, self.config["group_id"])
        if fenced_by_heartbeat(self):
            raise FencedInstanceIdError("a heartbeat was refused: another member holds this instance id")
        return records
