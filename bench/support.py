"""What the benchmarks share: the local infrastructure's addresses, fresh databases, service processes."""

import math
import os
import statistics
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from accounts_common.events import Topic, dead_letter_topic
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    ACCOUNT_STATE,
    CODES,
    DELIVERY_RESULTS,
    NEWSLETTER_DELIVERIES,
    SUBSCRIPTION_EVENTS,
    TOPICS,
    delete_topics,
    ensure_topics,
)
from identity.settings import RATE_LIMIT_PREFIX, RateLimits
from tests.support.processes import ServiceProcess, free_port, run_once, stop_all

RUN_ID = uuid.uuid4().hex[:8]
# Benchmarks send everything from one address: identity's per-IP limits would stop them early.
UNLIMITED_RATES = {
    RATE_LIMIT_PREFIX + name.upper(): "1000000000/3600" for name in RateLimits.__dataclass_fields__
}
# What identity publishes and the mailer reads and writes: a topic the mailer reads and no one made
# would cost it a metadata request and an error line every half second, counted as its CPU.
STACK_TOPICS = (
    ACCOUNT_EVENTS,
    ACCOUNT_STATE,
    CODES,
    NEWSLETTER_DELIVERIES,
    SUBSCRIPTION_EVENTS,
    DELIVERY_RESULTS,
)
LOGS = Path(os.environ.get("STATE_DIR", Path(__file__).resolve().parents[1] / ".state")) / "bench-logs"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def infra_env() -> dict[str, str]:
    """The local infrastructure, as `deploy/local/infra.sh env` exports it (make bench sets it)."""
    missing = [
        name
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SMTP_SINK_URL")
        if name not in os.environ
    ]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run the benchmarks with `make bench`")
    return {
        name: os.environ[name]
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SMTP_HOST", "SMTP_PORT")
    }


class BenchDatabases:
    """Databases created for one benchmark run and dropped afterwards."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: list[str] = []

    def create(self, name: str) -> str:
        database = f"bench_{name}_{RUN_ID}"
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        self.names.append(database)
        return psycopg.conninfo.make_conninfo(self.server_url, dbname=database)

    def drop_all(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            for database in self.names:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                )


class SignupStack:
    """identity (web + relay) and a mailer worker with their own databases, consumer group and topics.

    Topics of its own: on the shared ones, a new consumer group would first read every event anyone
    else published there, and the figures would be of that backlog.
    """

    def __init__(self, web_workers: int = 2, smtp_port: int | None = None) -> None:
        env = infra_env()
        if smtp_port is not None:  # a sink of the benchmark's own
            env["SMTP_PORT"] = str(smtp_port)
        self.databases = BenchDatabases(env["DATABASE_URL"])
        self.port = free_port()
        group = f"mailer-bench-{RUN_ID}"
        prefix = f"bench-{RUN_ID}."
        self.topics = [
            Topic(prefix + topic.name, topic.partitions) for topic in TOPICS if topic.name in STACK_TOPICS
        ]
        self.topics.append(Topic(dead_letter_topic(group), partitions=1))
        ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"], tuple(self.topics))
        self.env = {
            **env,
            "IDENTITY_DATABASE_URL": self.databases.create("identity"),
            "MAILER_DATABASE_URL": self.databases.create("mailer"),
            "MAILER_CONSUMER_GROUP": group,
            "IDENTITY_TOPIC_PREFIX": prefix,
            "MAILER_TOPIC_PREFIX": prefix,
            "IDENTITY_RELAY_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
            **UNLIMITED_RATES,
        }
        LOGS.mkdir(parents=True, exist_ok=True)
        self.processes = [
            ServiceProcess(
                "identity-web",
                ["identity", "web", "--port", str(self.port), "--workers", str(web_workers)],
                self.env,
                LOGS,
            ),
            ServiceProcess("identity-relay", ["identity", "relay"], self.env, LOGS),
            ServiceProcess("mailer-worker", ["mailer", "worker"], self.env, LOGS),
        ]

    @property
    def identity_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "SignupStack":
        try:
            run_once(["identity", "migrate"], self.env)
            run_once(["mailer", "migrate"], self.env)
            for process in self.processes:
                process.start()
            self.processes[0].wait_http(f"{self.identity_url}/readyz")
        except BaseException:  # no `with` body, so no __exit__ either: what started stops here
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            stop_all(self.processes)
        finally:
            try:
                self.databases.drop_all()
            finally:
                delete_topics(self.env["KAFKA_BOOTSTRAP_SERVERS"], [topic.name for topic in self.topics])


def percentile(samples: list[float], fraction: float) -> float:
    """The value below which `fraction` of the samples fall (nearest rank: the ⌈fraction × n⌉-th)."""
    ordered = sorted(samples)
    rank = math.ceil(round(fraction * len(ordered), 9))  # round(): 0.07 × 100 is 7.000000000000001
    return ordered[min(len(ordered) - 1, max(0, rank - 1))]


def arrived_at(mail: dict[str, Any]) -> float:
    """When a mail (an Inbox summary) reached the sink, by the sink's clock (milliseconds): Unix time."""
    return datetime.fromisoformat(mail["received_at"].replace("Z", "+00:00")).timestamp()


def describe_ms(samples: list[float]) -> str:
    """p50 / p90 / p99 / max of durations in seconds, printed in milliseconds."""
    return (
        f"p50 {percentile(samples, 0.50) * 1000:.1f} ms, p90 {percentile(samples, 0.90) * 1000:.1f} ms, "
        f"p99 {percentile(samples, 0.99) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms, "
        f"mean {statistics.fmean(samples) * 1000:.1f} ms (n={len(samples)})"
    )


def write_incompressible(path: Path, size: int, block_size: int = 2**20) -> None:
    """`size` bytes of one random block repeated (incompressible enough, cheap to make), read once
    more into the page cache so that every contestant starts from it."""
    block = os.urandom(block_size)
    with path.open("wb") as file:
        for _ in range(size // block_size):
            file.write(block)
        file.write(block[: size % block_size])
    with path.open("rb") as file:
        while file.read(8 * block_size):
            pass
