"""identity (web with two gunicorn workers, relay) and two mailer workers, as operators run them."""

import signal
from dataclasses import dataclass, field
from pathlib import Path

from bench.support import UNLIMITED_RATES
from tests.support.processes import ServiceProcess, free_port, run_once

MAILER_WORKERS = ("mailer-worker-1", "mailer-worker-2")


@dataclass(frozen=True)
class StackConfig:
    kafka: str
    identity_database_url: str
    mailer_database_url: str
    smtp_port: int
    mailer_group: str
    logs: Path
    # Copies of the topics behind a prefix (the short run in `make test`, on a shared broker). The
    # scenarios that name topics (poison records, the cluster's) run on the system's: `make chaos`.
    topic_prefix: str = ""
    # identity's settings beyond the stack's own: the short run's passwords hashed at the tests' cost.
    identity_env: dict[str, str] = field(default_factory=dict)


class ChaosStack:
    """The service processes of one chaos run; any of them can be killed and started again."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.web_port = free_port()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": config.kafka,
            "IDENTITY_DATABASE_URL": config.identity_database_url,
            "MAILER_DATABASE_URL": config.mailer_database_url,
            "MAILER_CONSUMER_GROUP": config.mailer_group,
            "IDENTITY_TOPIC_PREFIX": config.topic_prefix,
            "MAILER_TOPIC_PREFIX": config.topic_prefix,
            "MAILER_RETRY_MAX_BACKOFF_S": "2",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(config.smtp_port),
            "ACCOUNTS_ENV": "development",
            "IDENTITY_RELAY_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
            **UNLIMITED_RATES,
            **config.identity_env,
        }
        self.env = env
        web = ["identity", "web", "--port", str(self.web_port), "--workers", "2"]
        self.processes = {
            "identity-web": ServiceProcess("identity-web", web, env, config.logs),
            "identity-relay": ServiceProcess("identity-relay", ["identity", "relay"], env, config.logs),
        }
        self.metrics_urls: dict[str, str] = {}
        for name in MAILER_WORKERS:
            port = free_port()
            worker_env = {**env, "MAILER_WORKER_METRICS_PORT": str(port)}
            self.processes[name] = ServiceProcess(name, ["mailer", "worker"], worker_env, config.logs)
            self.metrics_urls[name] = f"http://127.0.0.1:{port}/metrics"

    @property
    def identity_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        run_once(["identity", "migrate"], self.env)
        run_once(["mailer", "migrate"], self.env)
        for name in self.processes:
            self.processes[name].start()
        for name in self.processes:
            self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        url = self.metrics_urls.get(name, f"{self.identity_url}/readyz")
        if name != "identity-relay":
            self.processes[name].wait_http(url, timeout=60)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown code runs, as when a node dies."""
        self.processes[name].stop(signal.SIGKILL)

    def restart(self, name: str) -> None:
        self.processes[name].start()
        self.wait_ready(name)

    def revive(self) -> list[str]:
        """Start again whatever died on its own (a scenario's side effect); their names."""
        dead = [name for name, process in self.processes.items() if process.process.poll() is not None]
        for name in dead:
            self.restart(name)
        return dead

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
