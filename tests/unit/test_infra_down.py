"""deploy/local/infra.sh down, and with-infra.sh after its command, run by bash over fakes of the
component scripts (postgres.sh, kafka.sh…) next to copies of them: a component that does not stop is
named and fails the command, and the others are stopped all the same."""

import os
import shutil
import subprocess
from pathlib import Path

LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
COMPONENTS = ("postgres", "kafka", "smtp-sink", "s3proxy")


def local_scripts(tmp_path: Path, failing: set[str]) -> tuple[Path, Path]:
    """infra.sh, with-infra.sh and lib.sh copied into a checkout's layout under tmp_path, with fake
    component scripts (none running until started) that record each start and stop, and fail to stop
    when named in `failing`; the copies' folder, and the file of the calls."""
    local, calls = tmp_path / "deploy" / "local", tmp_path / "calls"
    local.mkdir(parents=True)
    for name in ("infra.sh", "with-infra.sh", "lib.sh"):
        shutil.copy(LOCAL / name, local / name)
    for component in COMPONENTS:
        stop = (
            f'echo "{component}.sh: still running (pid 4242)" >&2; exit 1'
            if component in failing
            else "exit 0"
        )
        (local / f"{component}.sh").write_text(
            f'#!/usr/bin/env bash\n[[ $1 == status ]] && exit 3\necho "{component} $1" >>"{calls}"\n'
            f"[[ $1 == stop ]] && {{ {stop}; }}\nexit 0\n"
        )
    topics = tmp_path / ".venv" / "bin" / "accounts-topics"  # what `up` runs once all are started
    topics.parent.mkdir(parents=True)
    topics.write_text("#!/bin/sh\nexit 0\n")
    topics.chmod(0o755)
    return local, calls


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], env=dict(os.environ), capture_output=True, text=True, timeout=30
    )


def test_a_component_that_does_not_stop_fails_down_naming_it_after_the_others_stopped(tmp_path: Path) -> None:
    local, calls = local_scripts(tmp_path, failing={"kafka"})
    result = run(local / "infra.sh", "down")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "did not stop: kafka" in result.stderr and "still running (pid 4242)" in result.stderr
    assert calls.read_text().splitlines() == [f"{component} stop" for component in COMPONENTS]


def test_every_component_that_does_not_stop_is_named(tmp_path: Path) -> None:
    local, calls = local_scripts(tmp_path, failing={"postgres", "s3proxy"})
    result = run(local / "infra.sh", "down", "postgres", "smtp-sink", "s3proxy")  # those `up` started
    assert result.returncode == 1
    assert "did not stop: postgres s3proxy" in result.stderr
    assert calls.read_text().splitlines() == ["postgres stop", "smtp-sink stop", "s3proxy stop"]


def test_down_succeeds_when_every_component_stopped(tmp_path: Path) -> None:
    local, calls = local_scripts(tmp_path, failing=set())
    result = run(local / "infra.sh", "down")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "did not stop" not in result.stderr
    assert len(calls.read_text().splitlines()) == len(COMPONENTS)


def test_with_infra_fails_a_passing_command_when_what_it_started_did_not_stop(tmp_path: Path) -> None:
    """`make test` passing while Kafka is left running says so; a failing command keeps its status."""
    local, calls = local_scripts(tmp_path, failing={"kafka"})
    passed = run(local / "with-infra.sh", "true")
    assert passed.returncode == 1 and "did not stop: kafka" in passed.stderr, passed.stderr
    assert calls.read_text().splitlines()[-len(COMPONENTS) :] == [f"{c} stop" for c in COMPONENTS]
    assert run(local / "with-infra.sh", "bash", "-c", "exit 5").returncode == 5
    local, _ = local_scripts(tmp_path / "all-stop", failing=set())
    assert run(local / "with-infra.sh", "true").returncode == 0
