"""deploy/local/infra.sh up stops again what it started when it does not get to the end: its caller
(make run, with-infra.sh) only learns what it started from the last line, and would leave them."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local"
# The jars of the Kafka already set up (make infra-up), so this private state folder needs no Maven.
KAFKA_LIBS = Path(os.environ.get("STATE_DIR", REPO / ".state")) / "kafka" / "libs"


def test_a_component_that_fails_to_start_leaves_none_of_those_started_before_running():
    if not (KAFKA_LIBS / ".pom.sha256").is_file():
        pytest.skip(f"no Kafka jars in {KAFKA_LIBS} to start from without Maven (make infra-up)")
    state = REPO / ".state" / f"infra-up-test {free_port()}"  # reachable by PostgreSQL's OS user
    postgres_port = free_port()
    environment = {
        **os.environ,
        "STATE_DIR": str(state),
        "POSTGRES_PORT": str(postgres_port),
        "POSTGRES_DATABASES": "infra_up",
        "KAFKA_LIBS_FROM": str(KAFKA_LIBS),
    }
    with socket.socket() as taken:  # Kafka's port, held: kafka.sh refuses to start
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        environment["KAFKA_PORT"] = str(taken.getsockname()[1])
        environment["KAFKA_CONTROLLER_PORT"] = str(free_port())
        try:
            up = subprocess.run(
                ["bash", str(LOCAL / "infra.sh"), "up"],
                env=environment,
                capture_output=True,
                text=True,
                timeout=300,
            )
            postgres = subprocess.run(
                ["bash", str(LOCAL / "postgres.sh"), "status"],
                env=environment,
                capture_output=True,
                text=True,
            )
        finally:
            subprocess.run(
                ["bash", str(LOCAL / "postgres.sh"), "reset"], env=environment, capture_output=True
            )
            shutil.rmtree(state, ignore_errors=True)
    assert up.returncode != 0 and "is taken by another process" in up.stderr, up.stdout + up.stderr
    assert up.stdout == ""
    assert postgres.returncode == 3, f"PostgreSQL was left running: {postgres.stdout}"
