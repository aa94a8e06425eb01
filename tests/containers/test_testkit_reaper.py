"""A test run killed with SIGKILL leaves its containers running; the next stack on the machine removes
them, and leaves a live run's alone. Run by `make test-containers` (Podman here)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from testcontainers.core.docker_client import DockerClient

from accounts_testkit.containers import Images
from accounts_testkit.reaper import OWNER_LABEL, owner_labels, reap_orphans

# A run that starts part of a stack (its network and the SMTP sink), then waits to be killed.
KILLED_RUN = textwrap.dedent(
    """
    import time
    from accounts_testkit.containers import ContainerStack

    stack = ContainerStack()
    stack.network.create()
    stack._start_smtp_sink()
    print(stack.network.name, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def docker():  # type: ignore[no-untyped-def]
    return DockerClient().client


def owned_by(docker, pid: int) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    def mine(labels: dict[str, str]) -> bool:
        return labels.get(OWNER_LABEL, "").split("/")[1:2] == [str(pid)]

    containers = docker.containers.list(all=True, filters={"label": OWNER_LABEL})
    networks = docker.networks.list(filters={"label": OWNER_LABEL})
    return (
        [container.name for container in containers if mine(container.labels)],
        [network.name for network in networks if mine(network.attrs.get("Labels") or {})],
    )


def test_what_a_killed_run_left_is_removed_by_the_next(docker):
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN], stdout=subprocess.PIPE, text=True)
    try:
        network = run.stdout.readline().strip()  # type: ignore[union-attr]
        assert network, "the run did not start its containers"
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
    containers, networks = owned_by(docker, run.pid)
    assert len(containers) == 1 and networks == [network]  # SIGKILL: nothing of the run removed them

    removed = reap_orphans(docker)

    assert set(containers + networks) <= set(removed)
    assert owned_by(docker, run.pid) == ([], [])


def test_a_live_runs_containers_are_left_alone(docker):
    container = docker.containers.create(Images.from_env().smtp_sink, labels=owner_labels())
    try:
        assert container.name not in reap_orphans(docker)
        container.reload()  # still there: reload raises NotFound otherwise
    finally:
        container.remove(force=True)
