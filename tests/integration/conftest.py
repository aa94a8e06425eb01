"""Identity in-process against the real PostgreSQL (and, for the outbox tests, the real broker)."""

import dataclasses
import json
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.codecrypt import cipher_from_env
from accounts_common.db import create_pool
from identity.bootstrap import Identity, bootstrap
from identity.entrypoints.app import create_app
from identity.entrypoints.cli import IDENTITY_MIGRATIONS
from identity.settings import RateLimits, Settings
from tests.conftest import Infra, migrated_database


@pytest.fixture(scope="session")
def identity_db(infra: Infra) -> str:
    return migrated_database(infra, "test_identity", IDENTITY_MIGRATIONS)


@pytest.fixture(scope="session")
def identity_pool(identity_db: str) -> Iterator[ConnectionPool]:
    with create_pool(identity_db, name="test-identity") as pool:
        yield pool


@pytest.fixture
def make_identity(identity_db, identity_pool, infra):  # type: ignore[no-untyped-def]
    """An Identity wired to the test database, with any settings overridden.

    The tests share one database and one client address, so rate limits are generous unless a test
    sets its own (`rate_limits=...`).
    """

    def make(**overrides) -> Identity:  # type: ignore[no-untyped-def]
        overrides.setdefault("rate_limits", RateLimits.generous())
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


def mailed_codes(pool: ConnectionPool, email: str, purpose: str = "verification") -> list[str]:
    """The plaintexts of the codes emailed to `email`, newest first, read back from identity's outbox."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT record_value FROM outbox WHERE topic = 'identity.codes.v1' ORDER BY id DESC"
        ).fetchall()
    found = []
    for (value,) in rows:
        data = json.loads(value)["data"]
        if data["email"] == email and data["purpose"] == purpose:
            found.append(cipher_from_env().decrypt(data["code_encrypted"]))
    return found


def latest_code(pool: ConnectionPool, email: str, purpose: str = "verification") -> str:
    """The plaintext of the newest code emailed to `email`."""
    codes = mailed_codes(pool, email, purpose)
    assert codes, f"no {purpose} code was issued to {email}"
    return codes[0]


PASSWORD = "Correct-Horse-9!"


def register(client, email: str, password: str = PASSWORD, **extra: str) -> str:  # type: ignore[no-untyped-def]
    """Register through the API; the registration id it answered."""
    response = client.post("/v1/accounts", json={"email": email, "password": password, **extra})
    assert response.status_code == 202, response.json
    return response.json["registration_id"]


def verify(client, email: str, registration_id: str, code: str):  # type: ignore[no-untyped-def]
    """Enter a code for a registration; the response."""
    return client.post(
        "/v1/accounts/verification", json={"email": email, "registration_id": registration_id, "code": code}
    )


def sign_up(client, pool: ConnectionPool, email: str, password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    """Register and verify an account through the API; its first access token."""
    registration_id = register(client, email, password)
    response = verify(client, email, registration_id, latest_code(pool, email))
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


def outbox_events(pool: ConnectionPool, account_id: str) -> list[dict]:  # type: ignore[type-arg]
    """The events about one account in identity's outbox, oldest first."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT record_value FROM outbox WHERE record_key = %s AND follows_event_id IS NULL
               ORDER BY id""",
            (account_id,),
        ).fetchall()
    return [json.loads(value) for (value,) in rows]
