"""The pools' checkout check: a connection the server ended is replaced, a healthy one costs no query."""

import inspect
import threading
from types import SimpleNamespace

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from accounts_common import cli
from accounts_common.db import create_pool
from tests.support.polling import wait_for

POOL_CHECKOUT_WAIT_S = inspect.signature(create_pool).parameters["timeout_s"].default


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


def test_a_consumers_pool_is_the_projects_pool(identity_db, monkeypatch):
    """`cli.consume`'s pool (audit-log, catalogue worker) waits 5 s per checkout, not psycopg_pool's
    30, and replaces a connection the server ended: during an outage SIGTERM stops it promptly."""
    seen: dict[str, object] = {}

    class Consumer:
        def __init__(self, *, pool: ConnectionPool, **_options: object) -> None:
            self.pool = pool

        def run(self, _stop: threading.Event) -> None:
            ended = backend_pid(self.pool)
            with psycopg.connect(identity_db, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (ended,))
                wait_for(
                    lambda: (
                        not admin.execute(
                            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (ended,)
                        ).fetchone()
                    ),
                    timeout=10,
                    what="the backend to end",
                )
            seen["replaced"] = backend_pid(self.pool) != ended
            seen["checkout_wait_s"] = self.pool.timeout

    monkeypatch.setattr(cli, "EventConsumer", Consumer)
    monkeypatch.setattr(cli, "serve_metrics_of", lambda *_args: None)
    monkeypatch.setattr(cli, "run_until_signalled", lambda run: run(threading.Event()))
    settings = SimpleNamespace(database_url=identity_db, topic_prefix="", kafka_bootstrap_servers="unused")
    cli.consume(settings, "worker", "test-consumer-pool", "group", ("topic",), {})
    assert seen == {"replaced": True, "checkout_wait_s": POOL_CHECKOUT_WAIT_S}
