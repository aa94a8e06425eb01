"""The stop of deploy/local/kafka.sh, s3proxy.sh and smtp-sink.sh, run by bash on copies of them over
fake processes (whose command lines the scripts recognise): a process still there after SIGKILL (one
stuck in the kernel, say) fails the stop, names its pid and keeps its pid file, for infra.sh down to
report; one that goes is stopped however it went."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
# The process deaf to SIGTERM, as a broker stuck in a shutdown is: only SIGKILL ends it.
DEAF_TO_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('deaf', flush=True); "
    "time.sleep(600)"
)
# A kill that sends every signal but SIGKILL: the process outlives it, as one in uninterruptible sleep.
KILL_LOST = '() { if [[ $1 == -KILL || $1 == -9 ]]; then return 0; fi; builtin kill "$@"; }'
# The scripts' waits for SIGTERM to work, shortened in the copies: nothing here answers it.
SHORTER_WAITS = {
    "kafka.sh": ("STOP_TIMEOUT=30", "STOP_TIMEOUT=0"),
    "s3proxy.sh": ("for _ in $(seq 1 100); do\n        kill -0", "for _ in $(seq 1 3); do\n        kill -0"),
    "smtp-sink.sh": ("for _ in $(seq 1 50); do", "for _ in $(seq 1 3); do"),
}
# lib.sh's wait for SIGKILL to work, shortened too: the processes that outlive it here always do.
SHORTER_KILL_WAIT = ("for _ in $(seq 1 50); do\n        alive", "for _ in $(seq 1 3); do\n        alive")


def copied(tmp_path: Path, script: str, *, outlives_sigkill: bool = True) -> Path:
    """`script` and lib.sh copied into a checkout's layout under tmp_path, the SIGTERM wait shortened,
    and the wait for SIGKILL too when the process outlives it (one that goes may take more than the
    short wait on a loaded machine: it gets the scripts' own)."""
    local = tmp_path / "deploy" / "local"
    local.mkdir(parents=True)
    shorter = {script: SHORTER_WAITS[script]} | ({"lib.sh": SHORTER_KILL_WAIT} if outlives_sigkill else {})
    for name in (script, "lib.sh"):
        text = (LOCAL / name).read_text()
        if name in shorter:
            old, new = shorter[name]
            assert text.count(old) == 1, f"{name} no longer waits so: update the shorter waits"
            text = text.replace(old, new)
        (local / name).write_text(text)
    return local / script


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()


def fake(processes: list[subprocess.Popen[bytes]], pidfile: Path, *command_line: str) -> int:
    """A process deaf to SIGTERM whose command line ends with `command_line`, named by `pidfile`."""
    process = subprocess.Popen([sys.executable, "-c", DEAF_TO_TERM, *command_line], stdout=subprocess.PIPE)
    processes.append(process)
    assert process.stdout and process.stdout.readline() == b"deaf\n"
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{process.pid}\n")
    return process.pid


def stop(
    script: Path, state: Path, *, kill_lost: bool, **environment: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STATE_DIR": str(state), **environment}
    if kill_lost:
        env["BASH_FUNC_kill%%"] = KILL_LOST
    return subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, text=True, timeout=60)


def gone(process_id: int, processes: list[subprocess.Popen[bytes]]) -> bool:
    return next(p for p in processes if p.pid == process_id).poll() == -signal.SIGKILL


def test_a_kafka_node_left_running_fails_the_stop_of_the_cluster(tmp_path: Path, processes) -> None:
    """Each node stops in the background: a bare `wait` threw their statuses away."""
    script, state = copied(tmp_path, "kafka.sh"), tmp_path / "state"
    pidfile = state / "kafka" / "node-2" / "kafka.pid"
    pid = fake(processes, pidfile, "kafka.Kafka", "server.properties")
    result = stop(script, state, kill_lost=True, KAFKA_BROKERS="2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"still running (pid {pid}) after SIGKILL" in result.stderr
    assert pidfile.read_text() == f"{pid}\n"


def test_s3proxy_left_running_fails_its_stop(tmp_path: Path, processes) -> None:
    script, state = copied(tmp_path, "s3proxy.sh"), tmp_path / "state"
    pidfile = state / "s3proxy" / "s3proxy.pid"
    pid = fake(processes, pidfile, "org.gaul.s3proxy.Main", "--properties", "s3proxy.properties")
    result = stop(script, state, kill_lost=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"still running (pid {pid}) after SIGKILL" in result.stderr and "stopped" not in result.stdout
    assert pidfile.read_text() == f"{pid}\n"


def test_smtp_sink_processes_left_running_fail_the_stop_each_tried(tmp_path: Path, processes) -> None:
    script, state = copied(tmp_path, "smtp-sink.sh"), tmp_path / "state"
    folder = state / "smtp-sink"
    faults = fake(processes, folder / "faults.pid", "smtp_faults.py", "--smtp-port", "1025")
    mailpit = fake(processes, folder / "mailpit.pid", "mailpit", "--smtp", "127.0.0.1:1026")
    result = stop(script, state, kill_lost=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"still running (pid {faults}) after SIGKILL" in result.stderr and "stopped" not in result.stdout
    assert f"still running (pid {mailpit}) after SIGKILL" in result.stderr, "mailpit's stop tried too"
    assert (folder / "faults.pid").exists() and (folder / "mailpit.pid").exists()


@pytest.mark.parametrize(
    ("script", "pidfile", "command_line", "environment"),
    [
        ("kafka.sh", "kafka/node-2/kafka.pid", ("kafka.Kafka", "server.properties"), {"KAFKA_BROKERS": "2"}),
        ("s3proxy.sh", "s3proxy/s3proxy.pid", ("org.gaul.s3proxy.Main",), {}),
        ("smtp-sink.sh", "smtp-sink/faults.pid", ("smtp_faults.py",), {}),
    ],
)
def test_a_process_that_goes_at_sigkill_is_stopped(
    tmp_path: Path, processes, script, pidfile, command_line, environment
) -> None:
    """Gone, though its parent has not reaped it yet (a zombie, as a broker that fails its start is
    to the script that launched it)."""
    copy, state = copied(tmp_path, script, outlives_sigkill=False), tmp_path / "state"
    pid = fake(processes, state / pidfile, *command_line)
    result = stop(copy, state, kill_lost=False, **environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped" in result.stdout and not (state / pidfile).exists()
    assert gone(pid, processes)
