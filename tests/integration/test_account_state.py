"""identity.accounts.v1 against the real broker: compacted to the live accounts, and a bootstrap
that continues on the account events exactly where the state ends."""

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from accounts_common.account_feed import AccountFeed
from tests.conftest import Infra
from tests.integration.conftest import PASSWORD, bearer, sign_up
from tests.support.polling import wait_for
from tests.support.private_identity import PrivateIdentity, private_identity
from tests.support.workers import stopped_after

PARTITIONS = 2
SEGMENT_MS = 200
SENTINEL = b"compaction-sentinel"
# Small segments, cleaned as soon as possible, tombstones dropped at the next cleaning.
COMPACT_AT_ONCE = {
    "cleanup.policy": "compact",
    "segment.ms": str(SEGMENT_MS),
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "0",
}


@pytest.fixture
def published(infra: Infra) -> Iterator[PrivateIdentity]:
    with private_identity(infra, partitions=PARTITIONS, state_configs=COMPACT_AT_ONCE) as identity:
        yield identity


def make_accounts(published: PrivateIdentity, registered: int, verified: int, deleted: int) -> dict[str, str]:
    """Register accounts, verify some and delete some of those; each email and what became of it."""
    client, emails = published.client, {}
    for number in range(registered):
        email = f"state-{number}-{uuid.uuid4().hex[:8]}@example.org"
        if number < verified:
            token = sign_up(client, published.pool, email)
            if number < deleted:
                me = bearer(token)
                deletion = client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=me)
                assert deletion.status_code == 204
                emails[email] = "deleted"
                continue
            emails[email] = "verified"
        else:
            assert client.post("/v1/accounts", json={"email": email, "password": PASSWORD}).status_code == 202
            emails[email] = "registered"
    return emails


def roll_and_read(bootstrap_servers: str, topic: str) -> list:  # type: ignore[type-arg]
    """Every record of the topic now, after a sentinel record rolled each partition's active segment
    (the log cleaner never touches the active segment)."""
    time.sleep(SEGMENT_MS / 1000)  # a segment rolls only when it is older than segment.ms
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    for partition in range(PARTITIONS):
        producer.send(topic, key=SENTINEL, value=b"{}", partition=partition)
    producer.flush(10)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    partitions = [TopicPartition(topic, partition) for partition in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    records = []
    try:
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return [record for record in records if record.key != SENTINEL]


def test_after_compaction_the_topic_holds_exactly_the_live_accounts_in_their_latest_state(infra, published):
    emails = make_accounts(published, registered=9, verified=6, deleted=3)
    published.wait_until_relayed()
    live = {email for email, state in emails.items() if state != "deleted"}
    deleted = set(emails) - live

    def compacted() -> list | None:  # type: ignore[type-arg]
        records = roll_and_read(infra.kafka, published.state_topic)
        values = [json.loads(record.value) for record in records if record.value is not None]
        keys = [record.key for record in records]
        return records if {v["email"] for v in values} == live and len(keys) == len(set(keys)) else None

    records = wait_for(compacted, timeout=120, interval=1, what="the log cleaner to compact the state topic")
    values = (json.loads(record.value) for record in records if record.value is not None)
    states = {value["email"]: value for value in values}
    for email in live:
        verified = emails[email] == "verified"
        assert states[email]["verified"] is verified
        assert (states[email]["verified_at"] is not None) is verified
        assert states[email]["version"] == (2 if verified else 1)
    everything = b"".join(record.value or b"" for record in records).decode()
    assert not any(email in everything for email in deleted)


def test_a_bootstrap_sees_the_live_accounts_and_follows_only_the_events_after_them(infra, published):
    emails = make_accounts(published, registered=6, verified=4, deleted=2)
    published.wait_until_relayed()
    feed = AccountFeed(infra.kafka, topic_prefix=published.prefix)
    snapshot = feed.snapshot()
    assert {account.email: account.verified for account in snapshot.accounts.values()} == {
        email: state == "verified" for email, state in emails.items() if state != "deleted"
    }
    late = f"late-{uuid.uuid4().hex[:8]}@example.org"
    sign_up(published.client, published.pool, late)
    followed = []
    with stopped_after(30) as stop:  # a follower that sees too little ends, and fails below
        for item in feed.follow(snapshot.positions, stop):
            followed.append(item.event)
            if len(followed) == 2:
                stop.set()
    assert [(event.type, event.data["email"]) for event in followed] == [
        ("UserRegistered", late),
        ("AccountVerified", late),
    ]
