"""deploy/local/lib.sh, the deploy/local scripts' shared functions, run by bash over fakes of the
system's tools."""

import os
import socket
import subprocess
from pathlib import Path

LIB_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "lib.sh"


def test_the_services_a_package_install_enabled_are_disabled_and_no_other(tmp_path: Path) -> None:
    """Debian's prometheus and prometheus-postgres-exporter enable their services: at the next boot
    they would take the ports `make run` starts its own on (9090, 9187), and it would stop at once."""
    units = tmp_path / "units"
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "ssh.service").touch()  # enabled before: the machine's own
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    calls = tmp_path / "systemctl.calls"
    fake = bin_folder / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$*" >>"{calls}"\n')
    fake.chmod(0o755)
    script = f"""
        source "{LIB_SH}"
        before="$(enabled_units)"
        touch "{wants}/prometheus.service" "{wants}/prometheus-postgres-exporter.service"
        mkdir -p "{units}/timers.target.wants" && touch "{units}/timers.target.wants/apt-daily.timer"
        disable_units_enabled_since "$before"
    """
    environment = {**os.environ, "PATH": f"{bin_folder}:{os.environ['PATH']}", "SYSTEMD_UNIT_DIR": str(units)}
    result = subprocess.run(
        ["bash", "-c", script], env=environment, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert calls.read_text().splitlines() == [
        "disable --quiet prometheus-postgres-exporter.service",
        "disable --quiet prometheus.service",
    ]


RUN_SH = LIB_SH.parent / "run.sh"


def test_make_run_refuses_ports_taken_before_it_starts_anything(tmp_path: Path) -> None:
    """A second `make run`, or another program on one of its ports: said at once, naming the variable,
    before the infrastructure, a migration or a process is started."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {**os.environ, "STATE_DIR": str(tmp_path), "IDENTITY_INTERNAL_PORT": str(port)}
        result = subprocess.run(
            ["bash", str(RUN_SH)], env=environment, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"IDENTITY_INTERNAL_PORT={port}" in result.stderr and "ports taken:" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no logs folder, no infrastructure state
