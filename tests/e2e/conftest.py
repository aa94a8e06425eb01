"""The stack as running processes: identity (web with two gunicorn workers, relay) and mailer (worker)."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from accounts_common.events import Topic, dead_letter_topic
from accounts_common.events.topics import ensure_topics
from tests.conftest import RUN_ID, Infra, fresh_database
from tests.support.processes import ServiceProcess, free_port, run_once


@dataclass(frozen=True)
class Stack:
    identity_url: str
    processes: dict[str, ServiceProcess]


@pytest.fixture(scope="session")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("service-logs")
    port = free_port()
    # A group of its own, so mailers of other runs (or `make run`) never take this run's events.
    mailer_group = f"mailer-e2e-{RUN_ID}"
    ensure_topics(infra.kafka, (Topic(dead_letter_topic(mailer_group), partitions=1),))
    env = {
        "MAILER_CONSUMER_GROUP": mailer_group,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "IDENTITY_DATABASE_URL": fresh_database(infra, "e2e_identity"),
        "MAILER_DATABASE_URL": fresh_database(infra, "e2e_mailer"),
        "SMTP_HOST": infra.smtp_host,
        "SMTP_PORT": str(infra.smtp_port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("prometheus")),
    }
    run_once(["identity", "migrate"], env)
    run_once(["mailer", "migrate"], env)
    processes = {
        name: ServiceProcess(name, argv, env, logs)
        for name, argv in {
            "identity-web": ["identity", "web", "--port", str(port), "--workers", "2"],
            "identity-relay": ["identity", "relay"],
            "mailer-worker": ["mailer", "worker"],
        }.items()
    }
    for process in processes.values():
        process.start()
    try:
        processes["identity-web"].wait_http(f"http://127.0.0.1:{port}/readyz")
        yield Stack(identity_url=f"http://127.0.0.1:{port}", processes=processes)
    finally:
        for process in processes.values():
            process.stop()
