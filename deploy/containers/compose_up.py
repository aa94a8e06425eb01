"""Brings up a compose file under Podman 4.3 one service at a time, honouring depends_on conditions.

podman-compose leaves `service_healthy` to `podman wait --condition=healthy`, which Podman before
4.6 lacks (health checks need systemd timers there), and links one-shot jobs with `--requires`,
which Podman 4.3 refuses once the job has exited. So each service is started alone
(`podman-compose up -d --no-deps`) after its dependencies are met: health checks run by hand
(`podman healthcheck run`), jobs waited for and their exit status checked.

    python deploy/containers/compose_up.py COMPOSE_FILE [--timeout SECONDS]
"""

import argparse
import subprocess
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path

import yaml

PODMAN_COMPOSE = Path(sys.executable).with_name("podman-compose")


class ComposeError(Exception):
    pass


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False)


def container_of(project: str, service: str) -> str:
    result = podman(
        "ps",
        "-aq",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        f"label=com.docker.compose.service={service}",
    )
    ids = result.stdout.split()
    if not ids:
        raise ComposeError(f"no container for service {service}")
    return ids[0]


def wait_healthy(container: str, service: str, deadline: float) -> None:
    while podman("healthcheck", "run", container).returncode != 0:
        if time.monotonic() > deadline:
            raise ComposeError(f"{service} is not healthy in time:\n{logs(container)}")
        time.sleep(1)


def wait_completed(container: str, service: str, deadline: float) -> None:
    result = podman("wait", container)
    if result.returncode != 0 or result.stdout.strip() != "0":
        raise ComposeError(
            f"{service} failed (exit {result.stdout.strip() or result.stderr.strip()}):\n{logs(container)}"
        )


def logs(container: str) -> str:
    result = podman("logs", "--tail", "30", container)
    return result.stdout + result.stderr


def dependencies(definition: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """Each service it depends on, with the condition (short syntax: service_started)."""
    depends_on = definition.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()}


def up(compose_file: Path, timeout: float) -> None:
    document = yaml.safe_load(compose_file.read_text())
    project, services = document["name"], document["services"]
    graph = {name: set(dependencies(definition)) for name, definition in services.items()}
    deadline = time.monotonic() + timeout
    waits = {"service_healthy": wait_healthy, "service_completed_successfully": wait_completed}
    for service in TopologicalSorter(graph).static_order():
        for dependency, condition in dependencies(services[service]).items():
            if condition in waits:
                waits[condition](container_of(project, dependency), dependency, deadline)
        started = subprocess.run(
            [str(PODMAN_COMPOSE), "-f", str(compose_file), "up", "-d", "--no-build", "--no-deps", service],
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode != 0:
            raise ComposeError(f"podman-compose could not start {service}:\n{started.stdout}{started.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compose_file", type=Path)
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    try:
        up(args.compose_file, args.timeout)
    except ComposeError as error:
        sys.exit(f"compose_up.py: {error}")


if __name__ == "__main__":
    main()
