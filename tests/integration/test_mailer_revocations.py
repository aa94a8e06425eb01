"""The mailer's revocations against a real database: it checks tokens on its support endpoints, so it
keeps identity's SessionRevoked like every service, and its worker forgets each revoked session an
hour after the token would have expired (docs/api.md), as the catalogue's and the newsletter's do."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.events import new_event, validate_data
from accounts_common.housekeeping import delete_expired
from mailer.bootstrap import bootstrap
from mailer.entrypoints.cli import worker_pool
from mailer.migrations import MAILER_MIGRATIONS
from mailer.settings import Settings
from tests.conftest import Infra, migrated_database


@pytest.fixture(scope="module")
def mailer_pool(infra: Infra) -> Iterator[ConnectionPool]:
    with worker_pool(migrated_database(infra, "test_mailer_revocations", MAILER_MIGRATIONS), 1) as pool:
        yield pool


def revoke(pool: ConnectionPool, settings: Settings, expires_at: datetime) -> str:
    """A logout handled by the mailer's own handler; the session's id."""
    session_id = str(uuid4())
    account_id = str(uuid4())
    data = {
        "account_id": account_id,
        "session_id": session_id,
        "revoked_at": (expires_at - timedelta(minutes=30)).isoformat(),
        "expires_at": expires_at.isoformat(),
    }
    event = new_event("SessionRevoked", source="/identity", subject=account_id, data=data)
    handler = bootstrap(settings, pool).handlers()["SessionRevoked"]
    with pool.connection() as conn:
        handler(conn, event, validate_data(event.type, event.data))
    return session_id


def test_the_workers_housekeeping_forgets_a_revoked_session_an_hour_after_its_token_expired(mailer_pool):
    settings = Settings.from_env()
    now = datetime.now(UTC)
    long_expired = revoke(mailer_pool, settings, now - timedelta(hours=2))
    lately_expired = revoke(mailer_pool, settings, now - timedelta(minutes=10))
    with mailer_pool.connection() as conn:
        delete_expired(conn, settings.housekeeping())
        rows = conn.execute(
            "SELECT session_id FROM revoked_sessions WHERE session_id = ANY(%s)",
            ([long_expired, lately_expired],),
        ).fetchall()
    assert [row[0] for row in rows] == [lately_expired]
