"""The benchmarks' signup stack against the real PostgreSQL and Kafka: one that fails to start leaves
nothing behind (no process, database or topic of its own), as one that started leaves nothing after."""

import psycopg
import pytest

from accounts_common.events.topics import delete_topics
from accounts_common.kafka import create_admin
from bench.support import SignupStack
from tests.support.processes import ServiceProcess, stop_all


def test_a_signup_stack_that_fails_to_start_leaves_no_process_database_or_topic(infra, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka)
    monkeypatch.setenv("DATABASE_URL", infra.postgres)
    monkeypatch.setenv("SMTP_SINK_URL", infra.inbox.base_url)
    monkeypatch.setenv("SMTP_HOST", infra.smtp_host)
    monkeypatch.setenv("SMTP_PORT", str(infra.smtp_port))

    def never_ready(self: ServiceProcess, url: str, timeout: float = 90.0) -> None:
        raise AssertionError(f"{self.name} did not answer (for the test)")

    monkeypatch.setattr(ServiceProcess, "wait_http", never_ready)
    stack = SignupStack()
    try:
        with pytest.raises(AssertionError, match="did not answer"), stack:
            pass
        running = [
            process.name for process in stack.processes if process.process and process.process.poll() is None
        ]
        with psycopg.connect(infra.postgres) as conn:
            databases = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (stack.databases.names,)
            ).fetchall()
        topics = existing_topics(infra.kafka, [topic.name for topic in stack.topics])
    finally:  # what the stack left, cleared here so that a failure of this test leaves nothing either
        stop_all(stack.processes)
        stack.databases.drop_all()
        if left := existing_topics(infra.kafka, [topic.name for topic in stack.topics]):
            delete_topics(infra.kafka, sorted(left))
    assert running == [], "processes left running"
    assert databases == [], "databases left"
    assert topics == set(), "topics left"


def existing_topics(kafka: str, names: list[str]) -> set[str]:
    admin = create_admin(kafka, client_id="bench-stack-test")
    try:
        return set(names) & set(admin.list_topics())
    finally:
        admin.close()
