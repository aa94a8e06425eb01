"""The fault matrix: each scenario breaks one thing in the middle of a signup burst and repairs it.

A scenario passes when every accepted signup's code email reached the SMTP sink exactly once,
within its time bound. The duplicates docs/architecture/mailer.md documents (a worker dies, or loses its
database, after the SMTP server accepted an email and before the delivery row says so) are
allowed up to the window of each worker the fault can catch in it.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from accounts_common.events import dead_letter_topic
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES, NEWSLETTER_DELIVERIES
from bench.chaos.burst import deliveries, run_burst, wait_for_drain
from bench.chaos.infra import PrivateKafka, PrivatePostgres, pause_for
from bench.chaos.stack import MAILER_WORKERS, ChaosStack
from mailer.service_layer.dispatch import duplicate_window
from mailer.settings import Settings
from tests.support.inbox import Inbox
from tests.support.polling import wait_for

BOUNCE_PREFIX = "bounce-"
SETTLE_S = 3.0  # after the drain, how long a late duplicate is given to show up
MAILER_TOPICS = (CODES, ACCOUNT_EVENTS, NEWSLETTER_DELIVERIES)

WORKER_WINDOW = duplicate_window(Settings("", "").smtp_connections)  # the default connections


@dataclass
class Chaos:
    """What a fault can act on: the processes and the run's own infrastructure."""

    stack: ChaosStack
    inbox: Inbox
    kafka: PrivateKafka | None
    postgres: PrivatePostgres | None
    poison: list[bytes] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a fault wants in the table

    @property
    def private_kafka(self) -> PrivateKafka:
        assert self.kafka is not None, "this scenario needs the run's own Kafka"
        return self.kafka

    @property
    def private_postgres(self) -> PrivatePostgres:
        assert self.postgres is not None, "this scenario needs the run's own PostgreSQL"
        return self.postgres


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[Chaos], None]  # runs mid-burst; returns once the fault is repaired
    cluster: bool = False  # runs on the three-broker cluster instead of the single broker
    duplicates_allowed: int = 0
    bounce_every: int = 0  # every n-th address is one the SMTP server refuses with 550
    drain_timeout_s: float = 120.0
    before: Callable[[Chaos], None] = lambda chaos: None
    after: Callable[[Chaos], None] = lambda chaos: None


@dataclass
class Outcome:
    name: str
    sent: int
    accepted: int
    refused: int
    errors: str
    expected: int
    delivered: int
    duplicated: int
    duplicates_allowed: int
    burst_s: float
    drain_s: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.expected - self.delivered

    @property
    def ok(self) -> bool:
        return (
            self.missing == 0
            and self.duplicated <= self.duplicates_allowed
            and not self.errors
            and self.drain_s is not None
            and not any(note.startswith("FAIL") for note in self.notes)
        )


def run_scenario(chaos: Chaos, scenario: Scenario, signups: int, clients: int = 4) -> Outcome:
    run = uuid.uuid4().hex[:6]
    emails = [
        f"{BOUNCE_PREFIX if scenario.bounce_every and n % scenario.bounce_every == 0 else ''}"
        f"{scenario.name}-{run}-{n}@chaos.example.org"
        for n in range(signups)
    ]
    chaos.poison.clear()
    chaos.notes.clear()
    scenario.before(chaos)
    started = time.monotonic()
    try:
        result = run_burst(
            chaos.stack.identity_url, emails, clients=clients, halfway=lambda: inject(chaos, scenario)
        )
        burst_s = result.last_answer_at - started
        accepted = set(result.accepted)
        expected = {email for email in accepted if not email.startswith(BOUNCE_PREFIX)}
        drain_s = wait_for_drain(chaos.inbox, expected, started, scenario.drain_timeout_s)
        time.sleep(SETTLE_S)
        counts = deliveries(chaos.inbox, set(emails))
    finally:
        scenario.after(chaos)
    notes = [*chaos.notes, *(f"FAIL {name} crashed (restarted)" for name in chaos.stack.revive())]
    bounced_delivered = sum(1 for email in counts if email.startswith(BOUNCE_PREFIX))
    if bounced_delivered:
        notes.append(f"FAIL {bounced_delivered} refused address(es) got an email")
    if chaos.poison:
        notes.append(poison_note(chaos))
    return Outcome(
        name=scenario.name,
        sent=len(emails),
        accepted=len(accepted),
        refused=result.refused,
        errors=", ".join(f"{count}×{status}" for status, count in sorted(result.errors.items(), key=str)),
        expected=len(expected),
        delivered=len(set(counts) & expected),
        duplicated=sum(count - 1 for email, count in counts.items() if email in expected),
        duplicates_allowed=scenario.duplicates_allowed,
        burst_s=burst_s,
        drain_s=drain_s,
        notes=notes,
    )


def inject(chaos: Chaos, scenario: Scenario) -> None:
    """Run the fault; if the harness itself fails at it, the scenario fails with the reason."""
    try:
        scenario.fault(chaos)
    except Exception as error:  # noqa: BLE001 - reported in the table, the next scenario still runs
        chaos.notes.append(f"FAIL the fault could not be injected or repaired: {error!r}"[:300])


# ---------------------------------------------------------------- faults


def kill_and_restart(*names: str, down_s: float = 3.0) -> Callable[[Chaos], None]:
    def fault(chaos: Chaos) -> None:
        for name in names:
            chaos.stack.kill(name)
        pause_for(down_s)
        for name in names:
            chaos.stack.restart(name)

    return fault


def outage(
    seconds: float, break_it: Callable[[Chaos], None], repair: Callable[[Chaos], None]
) -> Callable[[Chaos], None]:
    """A fault that breaks something, leaves it broken for `seconds`, then repairs it."""

    def fault(chaos: Chaos) -> None:
        break_it(chaos)
        pause_for(seconds)
        repair(chaos)

    return fault


def start_broker(chaos: Chaos) -> None:
    chaos.private_kafka.start()


def smtp_451_storm(chaos: Chaos) -> None:
    chaos.inbox.set_fault(451, "4.3.0 Try again later", seconds=8)
    pause_for(8)


def refuse_bounce_addresses(chaos: Chaos) -> None:
    chaos.inbox.set_fault(550, "5.1.1 No such user", recipients=BOUNCE_PREFIX)


def clear_smtp_fault(chaos: Chaos) -> None:
    chaos.inbox.clear_fault()


def publish_poison(chaos: Chaos) -> None:
    """One record on each topic the mailer reads that no handler can use: not a CloudEvent at all."""
    producer = KafkaProducer(bootstrap_servers=chaos.private_kafka.bootstrap_servers, acks="all")
    try:
        for topic in MAILER_TOPICS:
            value = f"poison {uuid.uuid4().hex} for {topic}: not JSON {{".encode()
            producer.send(topic, key=b"poison", value=value)
            chaos.poison.append(value)
        producer.flush(30)
    finally:
        producer.close()


def poison_note(chaos: Chaos) -> str:
    """How many of the poison records reached the mailer's dead-letter topic."""
    consumer = KafkaConsumer(
        dead_letter_topic(chaos.stack.config.mailer_group),
        bootstrap_servers=chaos.private_kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    try:
        found = {record.value for record in consumer} & set(chaos.poison)
    finally:
        consumer.close()
    status = "" if len(found) == len(chaos.poison) else "FAIL "
    return f"{status}{len(found)}/{len(chaos.poison)} poison records dead-lettered"


def busiest_partition_leader(bootstrap_servers: str) -> int:
    """The broker leading the partition of identity's topics that holds the most records."""
    topics = [CODES, ACCOUNT_EVENTS]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="chaos")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    try:
        leaders = {
            TopicPartition(topic["name"], partition["partition_index"]): partition["leader_id"]
            for topic in admin.describe_topics(topics)
            for partition in topic["partitions"]
        }
        ends = consumer.end_offsets(list(leaders))
    finally:
        consumer.close()
        admin.close()
    return leaders[max(ends, key=lambda tp: ends[tp])]


def fully_replicated(bootstrap_servers: str, replicas: int) -> bool:
    """True when every partition of the system's topics has all its replicas in sync again."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="chaos")
    try:
        return all(
            len(partition["isr_nodes"]) == replicas
            for topic in admin.describe_topics(list(MAILER_TOPICS))
            for partition in topic["partitions"]
        )
    finally:
        admin.close()


def kill_busiest_leader(chaos: Chaos) -> None:
    kafka = chaos.private_kafka
    leader = busiest_partition_leader(kafka.bootstrap_servers)
    chaos.notes.append(f"killed broker {leader}")
    kafka.kill(leader)
    pause_for(10)
    kafka.start(leader)


def rolling_restart(chaos: Chaos) -> None:
    """Each broker in turn stopped and started, the next only once every replica is back in sync."""
    kafka = chaos.private_kafka
    for node in range(1, kafka.brokers + 1):
        kafka.stop(node)
        kafka.start(node)
        wait_for(
            lambda: fully_replicated(kafka.bootstrap_servers, kafka.brokers),
            timeout=90,
            what=f"every replica in sync after restarting broker {node}",
            interval=1,
        )


SCENARIOS = (
    Scenario("broker-kill", outage(5, lambda chaos: chaos.private_kafka.kill(), start_broker)),
    Scenario(
        "broker-down-60s",
        outage(60, lambda chaos: chaos.private_kafka.stop(), start_broker),
        drain_timeout_s=180,
    ),
    Scenario(
        "broker-paused-10s",
        outage(10, lambda chaos: chaos.private_kafka.pause(), lambda chaos: chaos.private_kafka.resume()),
    ),
    Scenario("relay-kill", kill_and_restart("identity-relay")),
    Scenario("worker-kill", kill_and_restart(MAILER_WORKERS[0]), duplicates_allowed=WORKER_WINDOW),
    Scenario("both-workers-kill", kill_and_restart(*MAILER_WORKERS), duplicates_allowed=2 * WORKER_WINDOW),
    Scenario(
        "postgres-crash",
        outage(4, lambda chaos: chaos.private_postgres.crash(), lambda chaos: chaos.private_postgres.start()),
        duplicates_allowed=2 * WORKER_WINDOW,
    ),
    Scenario("smtp-451-storm", smtp_451_storm),
    Scenario(
        "smtp-550-some",
        lambda chaos: None,
        bounce_every=10,
        before=refuse_bounce_addresses,
        after=clear_smtp_fault,
    ),
    Scenario("poison-records", publish_poison),
    Scenario("cluster-leader-kill", kill_busiest_leader, cluster=True),
    Scenario("cluster-rolling-restart", rolling_restart, cluster=True, drain_timeout_s=240),
)
SHORT = ("relay-kill", "worker-kill", "smtp-451-storm")
