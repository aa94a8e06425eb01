"""Identity in-process against the real PostgreSQL (and, for the outbox tests, the real broker)."""

import dataclasses
import json
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.codecrypt import cipher_from_env
from accounts_common.db import COMMON_MIGRATIONS, create_pool, migrate
from identity.bootstrap import Identity, bootstrap
from identity.entrypoints.app import create_app
from identity.entrypoints.cli import IDENTITY_MIGRATIONS
from identity.settings import Settings
from tests.conftest import Infra, fresh_database


@pytest.fixture(scope="session")
def identity_db(infra: Infra) -> str:
    url = fresh_database(infra, "test_identity")
    migrate(url, COMMON_MIGRATIONS, IDENTITY_MIGRATIONS)
    return url


@pytest.fixture(scope="session")
def identity_pool(identity_db: str) -> Iterator[ConnectionPool]:
    pool = create_pool(identity_db, name="test-identity")
    yield pool
    pool.close()


@pytest.fixture
def make_identity(identity_db, identity_pool, infra):  # type: ignore[no-untyped-def]
    """An Identity wired to the test database, with any settings overridden."""

    def make(**overrides) -> Identity:  # type: ignore[no-untyped-def]
        settings = dataclasses.replace(
            Settings.from_env(), database_url=identity_db, kafka_bootstrap_servers=infra.kafka, **overrides
        )
        return bootstrap(settings, pool=identity_pool)

    return make


@pytest.fixture
def identity(make_identity) -> Identity:  # type: ignore[no-untyped-def]
    return make_identity()


@pytest.fixture
def client(identity: Identity):  # type: ignore[no-untyped-def]
    return create_app(identity).test_client()


def latest_code(pool: ConnectionPool, email: str, purpose: str = "verification") -> str:
    """The plaintext of the newest code emailed to `email`, read back from identity's outbox."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT record_value FROM outbox WHERE topic = 'identity.codes.v1' ORDER BY id DESC"
        ).fetchall()
    for (value,) in rows:
        data = json.loads(value)["data"]
        if data["email"] == email and data["purpose"] == purpose:
            return cipher_from_env().decrypt(data["code_encrypted"])
    raise AssertionError(f"no {purpose} code was issued to {email}")
