"""Kafka stopped while people keep signing up: every event still arrives once it is back."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

import pytest

from accounts_common.events.topics import ACCOUNT_EVENTS, ensure_topics
from accounts_common.relay import OutboxRelay
from bench.chaos.infra import PrivateKafka
from tests.conftest import Infra
from tests.support.kafka import TopicReader
from tests.support.polling import wait_for
from tests.support.workers import running

PASSWORD = "Correct-Horse-9!"


@dataclass(frozen=True)
class StoppableBroker:
    bootstrap_servers: str
    control: Callable[[str], None]  # "stop" or "start"


@pytest.fixture
def broker(infra: Infra) -> Iterator[StoppableBroker]:
    """A broker the test may stop: the containers' own, or else one of its own on free ports
    (deploy/local/kafka.sh), so the broker every other test (and every other run on the machine)
    uses stays up, whoever runs it."""
    if infra.broker_control is not None:
        yield StoppableBroker(infra.kafka, infra.broker_control)
        return
    kafka = PrivateKafka()
    kafka.reset_and_start()
    try:
        ensure_topics(kafka.bootstrap_servers)
        yield StoppableBroker(kafka.bootstrap_servers, lambda action: getattr(kafka, action)())
    finally:
        kafka.stop()


def pending(pool, emails) -> int:  # type: ignore[no-untyped-def]
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL "
            "AND record_value::jsonb -> 'data' ->> 'email' = ANY(%s)",
            (emails,),
        ).fetchone()
    return row[0]


@pytest.mark.broker_outage
def test_signups_during_a_broker_outage_lose_no_event(broker, client, identity_db, identity_pool):
    run = uuid.uuid4().hex[:8]
    before = [f"before-{run}-{n}@example.org" for n in range(10)]
    during = [f"during-{run}-{n}@example.org" for n in range(10)]
    kafka = broker.bootstrap_servers
    reader = TopicReader(kafka, ACCOUNT_EVENTS)
    relay = OutboxRelay(identity_db, kafka, client_id="test-outage-relay", poll_interval=0.5)
    with closing(reader), running(relay.run):
        for email in before:
            assert client.post("/v1/accounts", json={"email": email, "password": PASSWORD}).status_code == 202
        wait_for(lambda: pending(identity_pool, before) == 0, timeout=30, what="events before the outage")
        broker.control("stop")
        try:
            for email in during:
                assert (
                    client.post("/v1/accounts", json={"email": email, "password": PASSWORD}).status_code
                    == 202
                )
            assert pending(identity_pool, during) == 2 * len(during)  # UserRegistered + CodeIssued each
        finally:
            broker.control("start")
        wait_for(lambda: pending(identity_pool, during) == 0, timeout=90, what="the outbox to drain")
        reader.read_until(
            lambda records: {e["data"].get("email") for e in reader.events()} >= set(before + during),
            timeout=60,
            what="every UserRegistered on the topic",
        )
    registered = [e["data"]["email"] for e in reader.events() if e["type"] == "UserRegistered"]
    assert sorted(email for email in registered if run in email) == sorted(before + during)
