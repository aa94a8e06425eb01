"""The real infrastructure for the tests: Kafka, PostgreSQL and the SMTP sink (and S3Proxy, `s3`).

Each comes from the environment when set (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, SMTP_SINK_URL
(Mailpit) with SMTP_FAULTS_URL and SMTP_HOST/SMTP_PORT (the fault handler in front of it)), as
`make test` does after starting the local ones (the SMTP sink, being the project's own programs, is
then started as processes when not given: tests/support/sink.py); otherwise all three run
in containers that testcontainers starts and removes (`make test-containers`: Podman) when a Docker
engine answers; otherwise the tests stop with a message saying what is missing.

`stack`: identity (web with two gunicorn workers, relay, audit log; hashing at a test cost,
tests/support/hashing.py) and a mailer worker as running processes — one per test process, shared by
the end-to-end and the browser tests — on topics of its own: copies of the system's topics behind a
prefix of the process (`Stack.topic_prefix`), created when it starts and deleted when the session ends.
"""

import os
import uuid
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, create_pool, migrate
from accounts_common.events import Topic, dead_letter_topic
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    ACCOUNT_STATE,
    CODES,
    DELIVERY_RESULTS,
    NEWSLETTER_DELIVERIES,
    OPERATOR_ACTIONS,
    SUBSCRIPTION_EVENTS,
    TOPICS,
    VIDEO_EVENTS,
    delete_topics,
    ensure_topics,
)
from accounts_testkit.accounts import verified_account
from accounts_testkit.containers import ContainerStack, engine_problem
from identity.migrations import IDENTITY_MIGRATIONS
from mailer.migrations import MAILER_MIGRATIONS
from tests.support.hashing import CHEAP_HASHING_ENV
from tests.support.inbox import Inbox
from tests.support.processes import ServiceProcess, free_port, stop_all
from tests.support.s3 import S3Server, s3_server
from tests.support.sink import PrivateSink, sink_problem
from tests.support.staff import AdminGrants, first_admin

# The tests run on development keys (make test sets this too; a direct `pytest` gets it here).
os.environ.setdefault("ACCOUNTS_ENV", "development")

REPO = Path(__file__).resolve().parents[1]
MISSING_INFRA = (
    "The tests need a real Kafka broker and PostgreSQL server. Run them with `make test` "
    "(it starts the local ones) or `make test-containers` (containers through Podman), or set "
    "KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (a server URL whose user may create databases), or make "
    "a Docker engine reachable for testcontainers (DOCKER_HOST; none answered: {reason})."
)


@dataclass(frozen=True)
class Infra:
    kafka: str
    postgres: str
    smtp_host: str
    smtp_port: int
    inbox: Inbox
    # Stops ("stop") and starts ("start") the broker, when the tests own it (containers).
    broker_control: Callable[[str], None] | None

    def database_url(self, name: str) -> str:
        return psycopg.conninfo.make_conninfo(self.postgres, dbname=name)


def _container_broker_control(stack: ContainerStack) -> Callable[[str], None]:
    return lambda action: stack.stop_broker() if action == "stop" else stack.start_broker()


def _infra_from_environment(kafka: str, postgres: str, cleanup: ExitStack, folder: Path) -> Infra:
    inbox = Inbox(os.environ.get("SMTP_SINK_URL", ""), os.environ.get("SMTP_FAULTS_URL"))
    smtp_host, smtp_port = os.environ.get("SMTP_HOST", "127.0.0.1"), int(os.environ.get("SMTP_PORT", "0"))
    if not inbox.base_url:
        sink = PrivateSink(folder)
        sink.start()
        cleanup.callback(sink.stop)
        smtp_port, inbox = sink.smtp_port, sink.inbox
    return Infra(
        kafka=kafka,
        postgres=postgres,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        inbox=inbox,
        broker_control=None,  # shared with other runs: a test that stops a broker starts its own
    )


def _infra_from_containers(cleanup: ExitStack) -> Infra:
    if problem := engine_problem():
        pytest.exit(MISSING_INFRA.format(reason=problem), returncode=2)
    stack = cleanup.enter_context(ContainerStack())
    stack.start_infrastructure()
    return Infra(
        kafka=stack.kafka_bootstrap,
        postgres=stack.postgres_url,
        smtp_host=stack.smtp_host,
        smtp_port=stack.smtp_port,
        inbox=Inbox(stack.inbox_url, stack.faults_url),
        broker_control=_container_broker_control(stack),
    )


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """From the environment when KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL are set, else containers."""
    kafka, postgres = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    with ExitStack() as cleanup:
        if kafka and postgres:
            infra = _infra_from_environment(kafka, postgres, cleanup, tmp_path_factory.mktemp("sink"))
        else:
            infra = _infra_from_containers(cleanup)
        ensure_topics(infra.kafka)
        try:
            yield infra
        finally:
            _drop_databases(infra)
            if _created_topics:
                delete_topics(infra.kafka, sorted(set(_created_topics)))


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server (S3Proxy): the local one from the environment, else a private one."""
    with s3_server(tmp_path_factory.mktemp("s3proxy")) as server:
        try:
            yield server
        finally:
            server.remove_created()


# The session fixtures that start service processes: under pytest-xdist (`--dist loadgroup`, as
# `make test` runs) the tests using one go to the same worker, so each is started once per group.
# The stack's tests form two groups, by folder: the browser tests' stack and the e2e tests' run side by
# side on two workers (one more identity and mailer, against half the suite's longest serial run).
PROCESS_FIXTURES = ("stack", "mailer")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test on the infrastructure says so when the SMTP sink is down: otherwise a dead sink
    shows only as mail that never came, test after test."""
    report: pytest.TestReport = yield
    infra = getattr(item, "funcargs", {}).get("infra")
    if report.failed and report.when == "call" and isinstance(infra, Infra):
        if problem := sink_problem(infra.inbox, infra.smtp_host, infra.smtp_port):
            local = " (the local one: deploy/local/smtp-sink.sh status, its logs in .state/smtp-sink/)"
            report.sections.append(("SMTP sink", f"The SMTP sink is down: {problem}{local}"))
    return report


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group each test with the others of its process fixture (and folder), or else of its module."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        module = item.nodeid.split("::")[0]
        fixture = next((name for name in PROCESS_FIXTURES if name in fixtures), None)
        group = f"{fixture}:{module.rsplit('/', 2)[-2]}" if fixture else module
        item.add_marker(pytest.mark.xdist_group(group))


RUN_ID = uuid.uuid4().hex[:8]
_created_databases: list[str] = []
# Connections that drop the run's databases at its end, per test process (four under `make test`):
# well within PostgreSQL's max_connections (100 by default).
DROPPING_CONNECTIONS = 16


def fresh_database(infra: Infra, name: str) -> str:
    """A new database for this test run (dropped when the run ends); its URL."""
    database = f"{name}_{RUN_ID}"
    with psycopg.connect(infra.postgres, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    _created_databases.append(database)
    return infra.database_url(database)


_created_topics: list[str] = []


def fresh_topics(infra: Infra, *topics: Topic) -> None:
    """Create topics for this test run (deleted when the run ends: a developer's broker keeps no topic
    of a finished run). Their names must be the run's own (a uuid, or RUN_ID)."""
    ensure_topics(infra.kafka, topics)
    _created_topics.extend(topic.name for topic in topics)


def migrated_database(infra: Infra, name: str, *migration_sets: MigrationSet) -> str:
    """A fresh database with the common tables and the given services' migrations applied."""
    url = fresh_database(infra, name)
    migrate(url, COMMON_MIGRATIONS, *migration_sets)
    return url


def database_fixtures(name: str, *migration_sets: MigrationSet, scope: str = "session", database: str = ""):  # type: ignore[no-untyped-def]
    """Two fixtures, `<name>_db` (a fresh database's URL, migrated) and `<name>_pool` (a pool on it):
    `identity_db, identity_pool = database_fixtures("identity", IDENTITY_MIGRATIONS)` in a conftest.
    `database` names the database when a module overrides the suite's fixtures with one of its own."""

    @pytest.fixture(scope=scope, name=f"{name}_db")
    def fresh(infra: Infra) -> str:
        return migrated_database(infra, database or f"test_{name}", *migration_sets)

    @pytest.fixture(scope=scope, name=f"{name}_pool")
    def pool(request: pytest.FixtureRequest) -> Iterator[ConnectionPool]:
        with create_pool(request.getfixturevalue(f"{name}_db"), name=f"test-{name}") as opened:
            yield opened

    return fresh, pool


def _drop_databases(infra: Infra) -> None:
    """Side by side, each on a connection of its own: DROP DATABASE waits for a checkpoint (PostgreSQL
    15), and drops that wait together share one. One after another, the 17 databases of a run of five
    integration modules took 20-26 s at the end of its session; 16 at a time, 3.3-3.5 s."""

    def drop(database: str) -> None:
        with psycopg.connect(infra.postgres, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))

    with ThreadPoolExecutor(max_workers=DROPPING_CONNECTIONS) as dropping:
        list(dropping.map(drop, _created_databases))


@pytest.fixture
def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.org"


# The topics the stack's processes (and the services the browser and e2e tests add to it) read and write.
STACK_TOPICS = (
    ACCOUNT_EVENTS,
    ACCOUNT_STATE,
    CODES,
    SUBSCRIPTION_EVENTS,
    NEWSLETTER_DELIVERIES,
    DELIVERY_RESULTS,
    VIDEO_EVENTS,
    OPERATOR_ACTIONS,
)


@dataclass(frozen=True)
class Stack:
    identity_url: str
    processes: dict[str, ServiceProcess]
    relay_metrics_url: str
    identity_env: dict[str, str]  # what identity's command line needs (its database)
    worker_metrics_url: str
    # Every process of the stack, and each service a test adds to it, reads and writes its copies of
    # the system's topics behind this prefix (<SERVICE>_TOPIC_PREFIX): no other run's stack, nor
    # `make run`, sees its events, and it sees none of theirs.
    topic_prefix: str
    topics: tuple[str, ...]  # every topic the stack made (its copies and its groups' dead letters)

    def topic(self, name: str) -> str:
        """The stack's copy of a system topic."""
        return self.topic_prefix + name


def stack_topics(prefix: str, names: tuple[str, ...] = STACK_TOPICS) -> tuple[Topic, ...]:
    """Copies of these topics behind `prefix`, with the system's partitions and settings."""
    declared = {topic.name: topic for topic in TOPICS}
    return tuple(
        Topic(prefix + name, partitions=declared[name].partitions, configs=declared[name].configs)
        for name in names
    )


@pytest.fixture(scope="session")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("service-logs")
    port = free_port()
    # Topics and groups of its own: the stacks of other test processes and `make run` on the same
    # broker neither take this run's events nor give it theirs. The topics are new, so the groups
    # read them from the beginning (auto.offset.reset=earliest): every event on them is this stack's.
    prefix = f"e2e-stack-{RUN_ID}."  # not the private mailer's `e2e-{RUN_ID}.`: both may run in one process
    mailer_group = f"mailer-e2e-{RUN_ID}"
    audit_group = f"identity-audit-e2e-{RUN_ID}"
    topics = (
        *stack_topics(prefix),
        Topic(dead_letter_topic(mailer_group), partitions=1),
        Topic(dead_letter_topic(audit_group), partitions=1),
    )
    fresh_topics(infra, *topics)
    env = {
        "IDENTITY_TOPIC_PREFIX": prefix,
        "MAILER_TOPIC_PREFIX": prefix,
        "MAILER_CONSUMER_GROUP": mailer_group,
        "IDENTITY_AUDIT_CONSUMER_GROUP": audit_group,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        # Migrated in this process (3.4-4.0 s less CPU than four `<service> migrate` commands): the
        # commands run for the e2e tests' private identity and mailer (tests/support/staff.py,
        # tests/e2e/conftest.py) and their catalogues and newsletter.
        "IDENTITY_DATABASE_URL": migrated_database(infra, "e2e_identity", IDENTITY_MIGRATIONS),
        "MAILER_DATABASE_URL": migrated_database(infra, "e2e_mailer", MAILER_MIGRATIONS),
        "SMTP_HOST": infra.smtp_host,
        "SMTP_PORT": str(infra.smtp_port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("prometheus")),
        **CHEAP_HASHING_ENV,
    }
    worker_env = {key: value for key, value in env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    worker_env["MAILER_WORKER_METRICS_PORT"] = str(free_port())
    env["IDENTITY_RELAY_METRICS_PORT"] = str(free_port())
    audit_env = {**worker_env, "IDENTITY_AUDIT_LOG_METRICS_PORT": str(free_port())}
    processes = {
        "identity-web": ServiceProcess(
            "identity-web", ["identity", "web", "--port", str(port), "--workers", "2"], env, logs
        ),
        "identity-relay": ServiceProcess("identity-relay", ["identity", "relay"], env, logs),
        "identity-audit-log": ServiceProcess(
            "identity-audit-log", ["identity", "audit-log"], audit_env, logs
        ),
        "mailer-worker": ServiceProcess("mailer-worker", ["mailer", "worker"], worker_env, logs),
    }
    for process in processes.values():
        process.start()
    try:
        processes["identity-web"].wait_http(f"http://127.0.0.1:{port}/readyz")
        yield Stack(
            identity_url=f"http://127.0.0.1:{port}",
            processes=processes,
            relay_metrics_url=f"http://127.0.0.1:{env['IDENTITY_RELAY_METRICS_PORT']}/metrics",
            identity_env=env,
            worker_metrics_url=f"http://127.0.0.1:{worker_env['MAILER_WORKER_METRICS_PORT']}/metrics",
            topic_prefix=prefix,
            topics=tuple(topic.name for topic in topics),
        )
    finally:
        stop_all(processes.values())


@pytest.fixture(scope="session")
def staff_admin(stack: Stack, infra: Infra) -> AdminGrants:
    """The admin who grants the stack's staff their roles through identity's API (made admin from the
    command line, as the first admin is): a grant costs a request, not a command's start."""
    verify = lambda email, password: verified_account(stack.identity_url, infra.inbox, email, password)  # noqa: E731
    return first_admin(stack.identity_url, stack.identity_env, verify)
