"""Identity in-process with its own database and a relay publishing to private copies of its topics,
so a test can read every account record without the shared topics' other records."""

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from accounts_common.db import create_pool
from accounts_common.events import Topic
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    ACCOUNT_STATE,
    CODES,
    TOPICS,
)
from accounts_common.relay import OutboxRelay
from identity.bootstrap import bootstrap
from identity.entrypoints.app import create_app
from identity.migrations import IDENTITY_MIGRATIONS
from identity.settings import RateLimits, Settings
from tests.conftest import Infra, fresh_topics, migrated_database
from tests.support.hashing import CHEAP_HASHING
from tests.support.polling import wait_for


@dataclasses.dataclass(frozen=True)
class PrivateIdentity:
    client: FlaskClient
    pool: ConnectionPool
    prefix: str

    @property
    def state_topic(self) -> str:
        return self.prefix + ACCOUNT_STATE

    @property
    def events_topic(self) -> str:
        return self.prefix + ACCOUNT_EVENTS

    def wait_until_relayed(self) -> None:
        """Wait until the relay has published every outbox row."""

        def nothing_pending() -> bool:
            with self.pool.connection() as conn:
                row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
            return row is not None and row[0] == 0

        wait_for(nothing_pending, timeout=30, what="the relay to publish the outbox")


@contextmanager
def private_identity(
    infra: Infra, *, partitions: int | None = None, state_configs: dict[str, str] | None = None
) -> Iterator[PrivateIdentity]:
    """A running identity and relay on fresh prefixed topics (deleted when the run ends)."""
    prefix = f"test-{uuid.uuid4().hex[:8]}."
    declared = {topic.name: topic for topic in TOPICS}
    topics = tuple(
        Topic(
            prefix + name,
            partitions=partitions or declared[name].partitions,
            configs=state_configs if name == ACCOUNT_STATE and state_configs else declared[name].configs,
        )
        for name in (CODES, ACCOUNT_EVENTS, ACCOUNT_STATE)
    )
    fresh_topics(infra, *topics)
    url = migrated_database(infra, f"test_identity_{prefix[5:13]}", IDENTITY_MIGRATIONS)
    settings = dataclasses.replace(
        Settings.from_env(),
        database_url=url,
        kafka_bootstrap_servers=infra.kafka,
        rate_limits=RateLimits.generous(),
        topic_prefix=prefix,
        **CHEAP_HASHING,
    )
    relay = OutboxRelay(url, infra.kafka, client_id=f"relay-{prefix}", topic_prefix=prefix)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    with create_pool(url, name=f"identity-{prefix}") as pool:
        thread.start()
        try:
            yield PrivateIdentity(create_app(bootstrap(settings, pool=pool)).test_client(), pool, prefix)
        finally:
            stop.set()
            thread.join(10)
