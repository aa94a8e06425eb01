"""The real infrastructure for the tests: Kafka, PostgreSQL and the SMTP sink.

Each comes from the environment when set (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, SMTP_SINK_URL
with SMTP_HOST/SMTP_PORT), as `make test` does after starting the local ones; otherwise from
testcontainers when a Docker engine answers; otherwise the tests stop with a message saying so.
The SMTP sink, being the project's own program, is started as a process when not given.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, migrate
from accounts_common.events.topics import ensure_topics
from tests.support.inbox import Inbox
from tests.support.polling import wait_for
from tests.support.processes import free_port, http_ok

# The tests run on development keys (make test sets this too; a direct `pytest` gets it here).
os.environ.setdefault("ACCOUNTS_ENV", "development")

REPO = Path(__file__).resolve().parents[1]
MISSING_INFRA = (
    "The tests need a real Kafka broker and PostgreSQL server. Run them with `make test` "
    "(it starts the local ones), or set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (a server URL "
    "whose user may create databases), or make a Docker engine reachable for testcontainers."
)


@dataclass(frozen=True)
class Infra:
    kafka: str
    postgres: str
    smtp_host: str
    smtp_port: int
    inbox: Inbox
    kafka_script: Path | None

    def database_url(self, name: str) -> str:
        return psycopg.conninfo.make_conninfo(self.postgres, dbname=name)


def _docker_reachable() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


def _containers(stack: list) -> tuple[str, str]:  # type: ignore[type-arg]
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    kafka = KafkaContainer().with_kraft()
    postgres = PostgresContainer("postgres:16", driver=None)
    for container in (kafka, postgres):
        container.start()
        stack.append(container)
    return kafka.get_bootstrap_server(), postgres.get_connection_url()


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    containers: list = []  # type: ignore[type-arg]
    kafka, postgres = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    local_broker = bool(os.environ.get("KAFKA_LOCAL_SCRIPT"))
    if not (kafka and postgres):
        if not _docker_reachable():
            pytest.exit(MISSING_INFRA, returncode=2)
        kafka, postgres = _containers(containers)
    sink = None
    inbox_url = os.environ.get("SMTP_SINK_URL")
    smtp_host, smtp_port = os.environ.get("SMTP_HOST", "127.0.0.1"), int(os.environ.get("SMTP_PORT", "0"))
    if not inbox_url:
        sink, smtp_port, inbox_url = _start_sink(tmp_path_factory.mktemp("sink"))
    ensure_topics(kafka)
    infra = Infra(
        kafka=kafka,
        postgres=postgres,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        inbox=Inbox(inbox_url),
        kafka_script=Path(os.environ["KAFKA_LOCAL_SCRIPT"]) if local_broker else None,
    )
    try:
        yield infra
    finally:
        _drop_databases(infra)
        if sink is not None:
            sink.terminate()
            sink.wait(10)
        for container in containers:
            container.stop()


def _start_sink(folder: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    smtp_port, http_port = free_port(), free_port()
    log = (folder / "smtp-sink.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "deploy/local/smtp_sink.py"),
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{http_port}"
    wait_for(lambda: http_ok(f"{url}/healthz"), timeout=20, what="the SMTP sink")
    return process, smtp_port, url


RUN_ID = uuid.uuid4().hex[:8]
_created_databases: list[str] = []


def fresh_database(infra: Infra, name: str) -> str:
    """A new database for this test run (dropped when the run ends); its URL."""
    database = f"{name}_{RUN_ID}"
    with psycopg.connect(infra.postgres, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    _created_databases.append(database)
    return infra.database_url(database)


def migrated_database(infra: Infra, name: str, *migration_sets: MigrationSet) -> str:
    """A fresh database with the common tables and the given services' migrations applied."""
    url = fresh_database(infra, name)
    migrate(url, COMMON_MIGRATIONS, *migration_sets)
    return url


def _drop_databases(infra: Infra) -> None:
    with psycopg.connect(infra.postgres, autocommit=True) as conn:
        for database in _created_databases:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


@pytest.fixture
def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.org"
