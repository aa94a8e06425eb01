"""The run's own Kafka, PostgreSQL and SMTP sink, driven through the deploy/local scripts."""

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.polling import wait_for
from tests.support.processes import free_port
from tests.support.sink import PrivateSink

__all__ = ["STATE", "PrivateKafka", "PrivatePostgres", "PrivateSink"]

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "deploy/local"
STATE = Path(os.environ.get("CHAOS_STATE_DIR", REPO / ".state/chaos"))
SCRIPT_TIMEOUT_S = 180


def run_script(script: str, action: str, env: dict[str, str]) -> None:
    """deploy/local/<script>.sh <action> with `env`; its output in the error if it fails."""
    result = subprocess.run(
        ["bash", str(SCRIPTS / script), action],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} {action} failed:\n{result.stdout}\n{result.stderr}")


class PrivateKafka:
    """A KRaft cluster of `brokers` nodes on free ports (deploy/local/kafka.sh, KAFKA_BROKERS)."""

    def __init__(self, brokers: int = 1) -> None:
        self.brokers = brokers
        self.ports = [free_port() for _ in range(brokers)]
        self.env = {
            "STATE_DIR": str(STATE),
            "KAFKA_BROKERS": str(brokers),
            "KAFKA_PORT": ",".join(map(str, self.ports)),
            "KAFKA_CONTROLLER_PORT": ",".join(str(free_port()) for _ in range(brokers)),
            "KAFKA_HEAP": "-Xmx384m -Xms384m",
            # The jars of the infrastructure's broker, when it has them: no second Maven run.
            "KAFKA_LIBS_FROM": str(Path(os.environ.get("STATE_DIR", REPO / ".state")) / "kafka/libs"),
        }

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def reset_and_start(self) -> None:
        run_script("kafka.sh", "reset", self.env)
        self.start()

    def start(self, node: int | None = None) -> None:
        run_script("kafka.sh", "start", self._node_env(node))

    def stop(self, node: int | None = None) -> None:
        run_script("kafka.sh", "stop", self._node_env(node))

    def kill(self, node: int = 1) -> None:
        """SIGKILL one broker and wait until it is gone."""
        pid = self.pid(node)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what=f"broker {node} to die")

    def pause(self, node: int = 1) -> None:
        """SIGSTOP: the broker keeps its sockets but answers nothing, as behind a partition."""
        os.kill(self.pid(node), signal.SIGSTOP)

    def resume(self, node: int = 1) -> None:
        os.kill(self.pid(node), signal.SIGCONT)

    def pid(self, node: int = 1) -> int:
        folder = "kafka" if self.brokers == 1 else f"kafka/node-{node}"
        return int((STATE / folder / "kafka.pid").read_text())

    def _node_env(self, node: int | None) -> dict[str, str]:
        return self.env if node is None else {**self.env, "KAFKA_NODE": str(node)}


class PrivatePostgres:
    """A PostgreSQL cluster of the run's own (deploy/local/postgres.sh) with identity and mailer."""

    def __init__(self) -> None:
        self.port = free_port()
        self.env = {
            "STATE_DIR": str(STATE),
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DATABASES": "identity mailer",
        }

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def reset_and_start(self) -> None:
        run_script("postgres.sh", "reset", self.env)
        self.start()

    def start(self) -> None:
        run_script("postgres.sh", "start", self.env)

    def crash(self) -> None:
        run_script("postgres.sh", "crash", self.env)

    def stop(self) -> None:
        run_script("postgres.sh", "stop", self.env)


def pause_for(seconds: float) -> None:
    """The length of a fault: the scenario holds it this long on purpose."""
    time.sleep(seconds)
