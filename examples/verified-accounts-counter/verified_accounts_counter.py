"""Counts verified accounts: bootstraps from identity.accounts.v1, then follows the account events.

The count and the positions reached on the events change in one SQLite transaction per event,
so a crash or a restart neither misses an event nor counts one twice. Stopped for longer than the
events are kept, it counts again from identity.accounts.v1: the events it missed are gone.
"""

import argparse
import os
import sqlite3

from kafka import TopicPartition
from kafka.errors import KafkaError

from accounts_common.account_feed import AccountFeed
from accounts_common.events import CloudEvent
from accounts_common.kafka import UnlistedTopic, create_reader
from accounts_common.process import MustStop

SCHEMA = """
CREATE TABLE IF NOT EXISTS verified (account_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS positions (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
"""


def apply(db: sqlite3.Connection, event: CloudEvent) -> None:
    if event.type == "AccountVerified":
        db.execute("INSERT OR IGNORE INTO verified VALUES (?)", (event.subject,))
    elif event.type == "AccountDeleted":
        db.execute("DELETE FROM verified WHERE account_id = ?", (event.subject,))


def save(db: sqlite3.Connection, positions: dict[int, int]) -> None:
    db.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?)", positions.items())


def bootstrap(db: sqlite3.Connection, feed: AccountFeed) -> dict[int, int]:
    """Count the live verified accounts afresh; the positions the events go on from."""
    snapshot = feed.snapshot()
    with db:
        db.execute("DELETE FROM verified")
        verified = [(str(a.account_id),) for a in snapshot.accounts.values() if a.verified]
        db.executemany("INSERT INTO verified VALUES (?)", verified)
        save(db, snapshot.positions)
    return snapshot.positions


def events_lost(servers: str, topic: str, positions: dict[int, int]) -> bool:
    """Whether retention deleted events not applied yet (Kafka would skip them without a word)."""
    consumer = create_reader(servers, client_id="verified-accounts-counter")
    try:
        beginnings = consumer.beginning_offsets([TopicPartition(topic, p) for p in positions])
    finally:
        consumer.close()
    return any(positions[tp.partition] < beginning for tp, beginning in beginnings.items())


def main(argv: list[str] | None = None) -> None:
    try:
        count(argv)
    # Kafka refusing this client's login or ACLs, or no such topic (a wrong prefix): a setting to fix.
    except (MustStop, UnlistedTopic) as refused:
        raise SystemExit(f"verified-accounts-counter: {refused}") from None
    except KafkaError as error:  # no broker answering when it starts: say where it looked
        where = f"{servers()} (KAFKA_BOOTSTRAP_SERVERS)"
        raise SystemExit(f"verified-accounts-counter: cannot reach Kafka at {where}: {error}") from None


def servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def count(argv: list[str] | None) -> None:
    """Count until stopped: from the database's positions, or afresh from identity.accounts.v1."""
    parser = argparse.ArgumentParser(prog="verified-accounts-counter", description=__doc__.splitlines()[0])
    parser.add_argument("database", nargs="?", default="verified-accounts.sqlite3", help="its SQLite file")
    db = sqlite3.connect(parser.parse_args(argv).database)
    db.executescript(SCHEMA)
    # Its clients log in as KAFKA_SECURITY_PROTOCOL and KAFKA_SASL_* say (accounts_common.kafka.login).
    feed = AccountFeed(servers(), topic_prefix=os.environ.get("ACCOUNTS_TOPIC_PREFIX", ""))
    positions = dict(db.execute("SELECT partition, next_offset FROM positions").fetchall())
    # First start, or stopped longer than the events' retention: the live accounts, and where the
    # events go on from.
    if not positions or events_lost(servers(), feed.events_topic, positions):
        positions = bootstrap(db, feed)
    for followed in feed.follow(positions):
        with db:
            apply(db, followed.event)
            save(db, {followed.partition: followed.next_offset})
        print("verified accounts:", db.execute("SELECT count(*) FROM verified").fetchone()[0], flush=True)


if __name__ == "__main__":
    main()
