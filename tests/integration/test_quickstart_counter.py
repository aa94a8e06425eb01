"""The consumer quickstart (examples/verified-accounts-counter), run as another team would run it,
against identity publishing to private copies of its topics."""

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from tests.conftest import Infra
from tests.integration.conftest import PASSWORD, bearer, sign_up
from tests.support.polling import wait_for
from tests.support.private_identity import PrivateIdentity, private_identity
from tests.support.processes import ServiceProcess

REGISTERED, DELETED = 20, 3


@contextmanager
def counter(infra: Infra, identity: PrivateIdentity, database: Path) -> Iterator[ServiceProcess]:
    """The quickstart running as its own process on `database`."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka, "ACCOUNTS_TOPIC_PREFIX": identity.prefix}
    process = ServiceProcess(
        database.stem, ["verified-accounts-counter", str(database)], env, database.parent
    ).start()
    try:
        yield process
    finally:
        process.stop()


def event_ends(infra: Infra, identity: PrivateIdentity) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=infra.kafka)
    try:
        partitions = [
            TopicPartition(identity.events_topic, p)
            for p in consumer.partitions_for_topic(identity.events_topic)
        ]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def verified_once_caught_up(database: Path, ends: dict[int, int]) -> set[str] | None:
    """The counter's verified account ids once it has read every event up to `ends`."""
    if not database.exists():
        return None
    with closing(sqlite3.connect(database)) as db:
        try:
            positions = dict(db.execute("SELECT partition, next_offset FROM positions").fetchall())
            verified = {row[0] for row in db.execute("SELECT account_id FROM verified")}
        except sqlite3.OperationalError:  # the counter has not created its tables yet
            return None
    return verified if positions == ends else None


def wait_for_count(process: ServiceProcess, database: Path, ends: dict[int, int]) -> set[str]:
    def caught_up() -> set[str] | None:
        assert process.process is not None and process.process.poll() is None, process.log_tail()
        return verified_once_caught_up(database, ends)

    return wait_for(caught_up, timeout=60, what=f"{database.name} to read every event")


def forget_the_events(infra: Infra, identity: PrivateIdentity, ends: dict[int, int]) -> None:
    """Delete every account event so far, as retention does a month after launch."""
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka, client_id="test-retention")
    try:
        admin.delete_records({TopicPartition(identity.events_topic, p): end for p, end in ends.items()})
    finally:
        admin.close()


def test_the_quickstart_counts_the_verified_accounts_and_a_fresh_start_finds_the_same(infra, tmp_path):
    with private_identity(infra) as identity:
        with counter(infra, identity, tmp_path / "counter-from-launch.sqlite3") as first:
            tokens = [
                sign_up(identity.client, identity.pool, f"counted-{uuid.uuid4().hex[:10]}@example.org")
                for _ in range(REGISTERED)
            ]
            ids = [identity.client.get("/v1/accounts/me", headers=bearer(t)).json["id"] for t in tokens]
            for token in tokens[:DELETED]:
                response = identity.client.delete(
                    "/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token)
                )
                assert response.status_code == 204
            identity.wait_until_relayed()
            ends = event_ends(infra, identity)
            counted = wait_for_count(first, tmp_path / "counter-from-launch.sqlite3", ends)
        assert len(counted) == REGISTERED - DELETED == 17
        assert counted == set(ids[DELETED:])

        forget_the_events(infra, identity, ends)
        with counter(infra, identity, tmp_path / "counter-started-later.sqlite3") as fresh:
            assert wait_for_count(fresh, tmp_path / "counter-started-later.sqlite3", ends) == counted
