"""Running the services as real processes, the way operators run them."""

import functools
import importlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from accounts_testkit.ports import free_port
from tests.support.polling import wait_for

__all__ = ["ServiceProcess", "free_port", "http_ok", "run_once", "stop_all"]

VENV_BIN = Path(sys.executable).parent
SERVICES = ("identity", "mailer", "catalogue", "newsletter", "portal")


@functools.cache
def no_metrics() -> dict[str, str]:
    """Every service's <SERVICE>_<PROCESS>_METRICS_PORT as 0 (serve none): their defaults (9101-9110)
    are where `make run`'s processes, or another checkout's tests, serve theirs, and a process that
    cannot listen there exits."""
    settings = [importlib.import_module(f"{service}.settings").Settings for service in SERVICES]
    variables = set().union(*(each.variables() for each in settings))
    return {name: "0" for name in sorted(variables) if name.endswith("_METRICS_PORT")}


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class ServiceProcess:
    """One service process (`identity web`, `mailer worker`, …) with its output kept in a log file;
    it listens only on the ports it is given: a web process's --port, the metrics ports in `env`
    (see no_metrics)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        if "web" in argv and "--port" not in argv:
            # Its settings' default (8000-8004) is where `make run` listens.
            raise ValueError(f"{name}: give a web process --port (a free_port()), not its default port")
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "ServiceProcess":
        command = [str(VENV_BIN / self.argv[0]), *self.argv[1:]]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env={**os.environ, **no_metrics(), **self.env}, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_http(self, url: str, timeout: float = 90.0) -> None:
        """Wait until `url` answers 200, failing early (with the log) if the process died."""

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            return http_ok(url)

        wait_for(ready, timeout=timeout, what=f"{self.name} at {url}", interval=0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the process and reap it (SIGKILL if it does not exit in time)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def terminate(self) -> None:
        """Send SIGTERM without waiting (stop() reaps it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_all(processes: Iterable[ServiceProcess]) -> None:
    """Signal every process first, then reap them: they wind down side by side, not one after another."""
    started = [process for process in processes if process.process is not None]
    for process in started:
        process.terminate()
    for process in started:
        process.stop()


def run_once(argv: list[str], env: dict[str, str]) -> str:
    """Run a one-shot command (a migration) to completion; its output, or an error with it."""
    result = subprocess.run(
        [str(VENV_BIN / argv[0]), *argv[1:]],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
