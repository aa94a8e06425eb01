"""Containers and networks of a test run that was killed, removed by the next run on the machine.

testcontainers' own reaper (Ryuk) is a container pulled from Docker Hub that needs the engine's
socket; under Podman it is turned off, and a run ended by SIGKILL (an out-of-memory kill, a CI
runner's hard timeout) left its stack running for good. Each container and network a stack makes is
labelled with its owner (host, process id and that process's start time); a stack starting removes
those whose owner, on this host, is gone. Another host's runs on a shared engine are left alone.
"""

import logging
import os
import socket
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OWNER_LABEL = "org.multimedia-accounts.testkit.owner"


def owner_labels() -> dict[str, str]:
    """The labels that name this process as a container's or a network's owner."""
    pid = os.getpid()
    return {OWNER_LABEL: f"{socket.gethostname()}/{pid}/{_started_at(pid)}"}


def reap_orphans(client: Any) -> list[str]:
    """Remove the containers, then the networks, whose owner process on this host is gone (docker-py
    `client`); the names of what was removed."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        if _owner_gone(container.labels.get(OWNER_LABEL, "")):
            container.remove(force=True, v=True)
            removed.append(container.name)
    for network in client.networks.list(filters={"label": OWNER_LABEL}):
        if _owner_gone(network.attrs.get("Labels", {}).get(OWNER_LABEL, "")):
            network.remove()
            removed.append(network.name)
    if removed:
        log.warning("removed what a killed test run left running: %s", ", ".join(removed))
    return removed


def _owner_gone(owner: str) -> bool:
    host, _, rest = owner.partition("/")
    pid, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return bool(started) and _started_at(int(pid)) != started  # the id now names another process


def _started_at(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), "" where /proc does not tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]
