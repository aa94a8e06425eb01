"""Clients log in to Kafka as SCRAM users (KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT, as deploy/k8s's
KafkaUsers require), against a private broker whose SASL listener knows one user."""

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from accounts_common import kafka
from accounts_common.events import new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, ACCOUNT_STATE, Topic, ensure_topics
from accounts_testkit.events import TopicReader
from bench.chaos.infra import REPO, run_script
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port

USER, PASSWORD = "mailer", f"scram-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private one-node Kafka with a SASL_PLAINTEXT (SCRAM-SHA-512) listener; its address."""
    sasl_port = free_port()
    env = {
        "STATE_DIR": str(tmp_path_factory.mktemp("scram-kafka")),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_SASL_PORT": str(sasl_port),
        "KAFKA_SCRAM_USERS": f"{USER}={PASSWORD}",
        "KAFKA_HEAP": "-Xmx384m -Xms384m",
        "KAFKA_LIBS_FROM": str(Path(os.environ.get("STATE_DIR", REPO / ".state")) / "kafka/libs"),
    }
    run_script("kafka.sh", "start", env)
    try:
        yield f"127.0.0.1:{sasl_port}"
    finally:
        run_script("kafka.sh", "stop", env)


@pytest.fixture
def log_in_as(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def log_in(password: str) -> None:
        monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
        monkeypatch.setenv("KAFKA_SASL_USERNAME", USER)
        monkeypatch.setenv("KAFKA_SASL_PASSWORD", password)
        kafka.login.cache_clear()

    yield log_in
    kafka.login.cache_clear()


def test_a_scram_user_creates_a_topic_produces_and_consumes(scram_broker, log_in_as):
    log_in_as(PASSWORD)
    topic = f"scram-{uuid.uuid4().hex[:8]}"
    assert ensure_topics(scram_broker, (Topic(topic, partitions=1),)).created == [topic]
    producer = kafka.create_producer(scram_broker, client_id="scram-test")
    producer.send(topic, b"logged in").get(timeout=10)
    producer.close()
    consumer = kafka.create_consumer(scram_broker, group_id=f"scram-{topic}", topics=(topic,))
    try:
        values: list[bytes] = []

        def received() -> bool:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
            return bool(values)

        wait_for(received, timeout=30, what="the record, read back as the SCRAM user")
    finally:
        consumer.close()
    assert values == [b"logged in"]


def test_the_testkits_topic_reader_reads_as_the_scram_user(scram_broker, log_in_as):
    """TopicReader, which other teams' tests and ours read topics with, logs in as the services do."""
    log_in_as(PASSWORD)
    topic = f"scram-reader-{uuid.uuid4().hex[:8]}"
    ensure_topics(scram_broker, (Topic(topic, partitions=2),))
    reader = TopicReader(scram_broker, topic)
    try:
        producer = kafka.create_producer(scram_broker, client_id="scram-reader-test")
        producer.send(topic, b'{"read": "as the SCRAM user"}').get(timeout=10)
        producer.close()
        reader.read_until(bool, timeout=30, what="the record, read by TopicReader as the SCRAM user")
    finally:
        reader.close()
    assert reader.events() == [{"read": "as the SCRAM user"}]


def test_the_quickstart_counter_reads_the_account_events_as_the_scram_user(scram_broker, log_in_as, tmp_path):
    """examples/verified-accounts-counter, which other teams copy, logs in from the same KAFKA_*."""
    log_in_as(PASSWORD)
    prefix = f"scram-{uuid.uuid4().hex[:8]}."
    ensure_topics(scram_broker, (Topic(prefix + ACCOUNT_STATE, partitions=1), Topic(prefix + ACCOUNT_EVENTS)))
    account_id = uuid.uuid4()
    verified = new_event(
        "AccountVerified",
        source="/identity",
        subject=str(account_id),
        data={
            "account_id": str(account_id),
            "email": "counted@example.com",
            "verified_at": "2026-01-02T03:04:05Z",
        },
    )
    producer = kafka.create_producer(scram_broker, client_id="scram-counter-test")
    producer.send(
        prefix + ACCOUNT_EVENTS,
        key=verified.subject.encode(),
        value=verified.to_json().encode(),
        headers=verified.content_headers(),
    ).get(timeout=10)
    producer.close()
    database = tmp_path / "counter.sqlite3"
    # The login (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*) is log_in_as's, in the environment it inherits.
    env = {"KAFKA_BOOTSTRAP_SERVERS": scram_broker, "ACCOUNTS_TOPIC_PREFIX": prefix}
    counter = ServiceProcess("counter", ["verified-accounts-counter", str(database)], env, tmp_path).start()

    def counted() -> bool:
        assert counter.process is not None and counter.process.poll() is None, counter.log_tail()
        try:
            with closing(sqlite3.connect(database)) as db:
                return db.execute("SELECT account_id FROM verified").fetchall() == [(str(account_id),)]
        except sqlite3.OperationalError:  # no file or tables yet
            return False

    try:
        wait_for(counted, timeout=30, what="the counter to count the account, reading as the SCRAM user")
    finally:
        counter.stop()


def test_a_wrong_password_gets_nowhere(scram_broker, log_in_as):
    log_in_as("not-" + PASSWORD)
    with pytest.raises(KafkaError):
        # The services' login settings, with 5 s to give up instead of kafka-python's 30.
        KafkaAdminClient(bootstrap_servers=scram_broker, bootstrap_timeout_ms=5000, **kafka.login())
