"""The accounts stack in containers, started and removed by testcontainers (Docker or Podman).

`ContainerStack().start_infrastructure()` runs PostgreSQL, Kafka and the SMTP sink on a network of
their own, reachable from the host; `start_services()` adds identity (web, relay) and the mailer
worker on top, migrated and with keys made for this stack alone. `stop()` removes every container
and the network, also after a failed start; what a killed run left, the next stack removes (reaper).
"""

import os
import secrets
import urllib.request
from dataclasses import dataclass, fields

import docker
import psycopg
import requests
from cryptography.fernet import Fernet
from psycopg import sql
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

from accounts_common.events.topics import ensure_topics
from accounts_testkit.polling import wait_for
from accounts_testkit.ports import free_port
from accounts_testkit.reaper import owner_labels, reap_orphans

POSTGRES_PASSWORD = "accounts-test"  # of a throwaway server reachable only from this machine
SERVICE_DATABASES = ("identity", "mailer")
INTERNAL_KAFKA = "kafka:19092"
STARTUP_TIMEOUT = 120
ONE_SHOT_TIMEOUT = 300  # a migration or a staff grant, on a loaded machine
KAFKA_STARTED = "Kafka Server started"


@dataclass(frozen=True)
class Images:
    """The images to run; ACCOUNTS_<FIELD>_IMAGE overrides each (`make test-containers` sets them)."""

    postgres: str = "postgres:16"
    kafka: str = "apache/kafka:4.1.1"
    smtp_sink: str = "accounts-smtp-sink"
    identity: str = "accounts-identity"
    mailer: str = "accounts-mailer"

    @classmethod
    def from_env(cls) -> "Images":
        defaults = cls()
        return cls(
            **{
                item.name: os.environ.get(f"ACCOUNTS_{item.name.upper()}_IMAGE", getattr(defaults, item.name))
                for item in fields(cls)
            }
        )


def engine_problem() -> str | None:
    """Why no Docker engine (Docker, or Podman's Docker API) answers at DOCKER_HOST, or None."""
    try:
        DockerClient().client.ping()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "no engine"
        return str(error) or type(error).__name__


def missing_images(images: Images) -> list[str]:
    """The images the engine neither holds nor can pull, each with why (pulling those it can): the
    accounts images are built from this repository, never pulled from a public registry."""
    client = DockerClient().client
    missing = []
    for name in dict.fromkeys(getattr(images, item.name) for item in fields(images)):
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            try:
                client.images.pull(name)
            except docker.errors.DockerException as error:
                missing.append(f"{name} ({str(error).splitlines()[0][:200]})")
    return missing


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


class ContainerStack:
    """Kafka, PostgreSQL and the SMTP sink, and optionally the services, on one container network."""

    def __init__(self, images: Images | None = None) -> None:
        self.images = images or Images.from_env()
        self.docker = DockerClient()
        self.host = self.docker.host()
        self.network = Network(docker_network_kw={"labels": owner_labels()})
        self._network_created = False
        self.containers: dict[str, DockerContainer] = {}
        self.kafka_bootstrap = ""
        self.postgres_url = ""
        self.smtp_host, self.smtp_port = self.host, 0
        self.inbox_url = ""
        self.faults_url = ""
        self.identity_url = ""
        self._services_env: dict[str, str] = {}

    def __enter__(self) -> "ContainerStack":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start_infrastructure(self) -> "ContainerStack":
        reap_orphans(self.docker.client)
        self.network.create()
        self._network_created = True
        self._start_postgres()
        self._start_kafka()
        self._start_smtp_sink()
        ensure_topics(self.kafka_bootstrap)
        return self

    def start_services(self) -> "ContainerStack":
        """Identity web and relay and the mailer worker, on fresh databases, after their migrations."""
        self._create_databases()
        env = self._services_env = self._service_env()
        self._run_to_completion("identity-migrate", self.images.identity, ["identity", "migrate"], env)
        self._run_to_completion("mailer-migrate", self.images.mailer, ["mailer", "migrate"], env)
        web = self._start(
            "identity-web",
            DockerContainer(self.images.identity)
            .with_envs(**env)
            .with_exposed_ports(8001)
            .waiting_for(HttpWaitStrategy(8001, "/readyz").with_startup_timeout(STARTUP_TIMEOUT)),
        )
        self.identity_url = f"http://{self.host}:{web.get_exposed_port(8001)}"
        self._start(
            "identity-relay",
            DockerContainer(self.images.identity).with_envs(**env).with_command(["identity", "relay"]),
        )
        self._start(
            "mailer-worker",
            DockerContainer(self.images.mailer).with_envs(**env).with_command(["mailer", "worker"]),
        )
        return self

    def grant_role(self, email: str, role: str) -> None:
        """Give the verified account a staff role, as an operator does: `identity staff grant` run in a
        container of the identity image, against the stack's database."""
        command = ["identity", "staff", "grant", email, role]
        self._run_to_completion("identity-staff-grant", self.images.identity, command, self._services_env)

    def stop(self) -> None:
        """Remove every container started (newest first) and the network, whatever failed before."""
        errors = []
        for name, container in reversed(list(self.containers.items())):
            try:
                container.stop()
            except Exception as error:  # noqa: BLE001 - remove the others all the same
                errors.append(f"{name}: {error}")
        self.containers.clear()
        if self._network_created:
            self.network.remove()
            self._network_created = False
        if errors:
            raise RuntimeError("could not remove containers: " + "; ".join(errors))

    def stop_broker(self) -> None:
        self.containers["kafka"].get_wrapped_container().stop(timeout=30)

    def start_broker(self) -> None:
        """Start the stopped broker again; return once it says it started. Its log still holds each
        earlier start's line (and testcontainers' log wait ignores `times`): count them."""
        kafka = self.containers["kafka"]
        starts = _said(kafka, KAFKA_STARTED)
        kafka.get_wrapped_container().start()
        wait_for(
            lambda: _said(kafka, KAFKA_STARTED) > starts,
            timeout=STARTUP_TIMEOUT,
            what="Kafka to start again",
            interval=0.5,
        )

    def _start(self, name: str, container: DockerContainer) -> DockerContainer:
        # Registered before starting: a start that fails half-way is still removed by stop().
        self.containers[name] = container.with_network(self.network).with_network_aliases(name)
        return container.with_kwargs(labels=owner_labels()).start()

    def _start_postgres(self) -> None:
        postgres = self._start(
            "postgres",
            DockerContainer(self.images.postgres)
            .with_env("POSTGRES_PASSWORD", POSTGRES_PASSWORD)
            .with_exposed_ports(5432),
        )
        self.postgres_url = f"postgresql://postgres:{POSTGRES_PASSWORD}@{self.host}:{postgres.get_exposed_port(5432)}/postgres"
        wait_for(
            lambda: _postgres_answers(self.postgres_url),
            timeout=STARTUP_TIMEOUT,
            what="PostgreSQL",
            interval=0.2,
        )

    def _start_kafka(self) -> None:
        # The host's clients need the advertised port before the broker starts: bind a chosen one.
        port = free_port()
        self._start(
            "kafka",
            DockerContainer(self.images.kafka)
            .with_envs(**_kafka_settings(f"{self.host}:{port}"))
            .with_bind_ports(9092, port)
            .waiting_for(LogMessageWaitStrategy(KAFKA_STARTED).with_startup_timeout(STARTUP_TIMEOUT)),
        )
        self.kafka_bootstrap = f"{self.host}:{port}"

    def _start_smtp_sink(self) -> None:
        sink = self._start(
            "smtp-sink",
            DockerContainer(self.images.smtp_sink)
            .with_exposed_ports(1025, 8025, 8026)
            .waiting_for(HttpWaitStrategy(8025, "/readyz").with_startup_timeout(STARTUP_TIMEOUT)),
        )
        self.smtp_port = sink.get_exposed_port(1025)
        self.inbox_url = f"http://{self.host}:{sink.get_exposed_port(8025)}"
        self.faults_url = f"http://{self.host}:{sink.get_exposed_port(8026)}"
        wait_for(
            lambda: _answers(f"{self.faults_url}/healthz"), timeout=STARTUP_TIMEOUT, what="the fault handler"
        )

    def _create_databases(self) -> None:
        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            for database in SERVICE_DATABASES:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))

    def _service_env(self) -> dict[str, str]:
        """What the services read, with keys generated for this stack (no development key)."""
        databases = {
            f"{name.upper()}_DATABASE_URL": f"postgresql://postgres:{POSTGRES_PASSWORD}@postgres:5432/{name}"
            for name in SERVICE_DATABASES
        }
        return {
            **databases,
            "KAFKA_BOOTSTRAP_SERVERS": INTERNAL_KAFKA,
            "SMTP_HOST": "smtp-sink",
            "SMTP_PORT": "1025",
            "CODE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "IDENTITY_CODE_HMAC_KEY": secrets.token_urlsafe(32),
            "IDENTITY_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            # Every test signs up from the same address.
            "IDENTITY_RATE_LIMIT_REGISTER_PER_IP": "100000/3600",
            "IDENTITY_RATE_LIMIT_CODE_PER_IP": "100000/600",
            "IDENTITY_RATE_LIMIT_LOGIN_PER_IP": "100000/600",
        }

    def _run_to_completion(self, name: str, image: str, command: list[str], env: dict[str, str]) -> None:
        # Removed once done: a second run of the same name would replace it in self.containers,
        # and the first would outlive the stack (and, under Podman, keep its network from going).
        container = DockerContainer(image).with_envs(**env).with_command(command)
        try:
            self._start(name, container)
            if failure := _one_shot_failure(container):
                stdout, stderr = container.get_logs()
                raise RuntimeError(f"{' '.join(command)} {failure}:\n{(stdout + stderr).decode()[-3000:]}")
        finally:
            self.containers.pop(name, None)
            container.stop()


def _one_shot_failure(container: DockerContainer) -> str | None:
    """None once the container's command exited 0; else how it failed. Bounded, unlike
    testcontainers' wait(): a command that never ends must fail the start, not hold the session."""
    try:
        status = container.get_wrapped_container().wait(timeout=ONE_SHOT_TIMEOUT)["StatusCode"]
    except requests.exceptions.RequestException:  # docker-py's read timeout: still running
        return f"did not finish within {ONE_SHOT_TIMEOUT}s"
    return None if status == 0 else f"exited with {status}"


def _said(container: DockerContainer, line: str) -> int:
    """How many times the container's log (both streams, every run of it) holds `line`."""
    stdout, stderr = container.get_logs()
    return (stdout + stderr).decode(errors="replace").count(line)


def _kafka_settings(advertised: str) -> dict[str, str]:
    """A one-node KRaft broker, in the variables both apache/kafka and localhost/accounts-kafka read."""
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,INTERNAL://:19092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{advertised},INTERNAL://{INTERNAL_KAFKA}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "INTERNAL",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "3",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }
