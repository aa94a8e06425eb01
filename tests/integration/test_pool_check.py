"""The pools' checkout check: a connection the server ended is replaced, a healthy one costs no query."""

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from accounts_common.db import create_pool
from tests.support.polling import wait_for


@pytest.fixture
def pool(identity_db: str):  # type: ignore[no-untyped-def]
    with create_pool(identity_db, name="test-pool-check", max_size=1) as pool:
        yield pool


@pytest.fixture
def checks_sent(monkeypatch):  # type: ignore[no-untyped-def]
    """The connections the checkout check sent a query on."""
    sent: list[psycopg.Connection] = []
    real = ConnectionPool.check_connection

    def counted(conn: psycopg.Connection) -> None:
        sent.append(conn)
        real(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return sent


def backend_pid(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return row[0]


def test_a_healthy_connection_is_handed_out_without_a_query(pool, checks_sent):
    first = backend_pid(pool)
    assert backend_pid(pool) == first
    assert checks_sent == []


def test_a_connection_the_server_ended_is_replaced_at_checkout(pool, identity_db, checks_sent):
    ended = backend_pid(pool)
    with psycopg.connect(identity_db, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (ended,))
        wait_for(
            lambda: not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (ended,)).fetchone(),
            timeout=10,
            what="the backend to end",
        )
    assert backend_pid(pool) != ended
    assert len(checks_sent) == 1
