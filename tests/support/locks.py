"""Concurrency tests: waiting until one of the requests started waits for a lock another holds, and
running a step while another's transaction is left open."""

import threading
from collections.abc import Callable

import psycopg
from psycopg_pool import ConnectionPool


def until_a_request_waits_for_a_lock(database_url: str) -> None:
    """Return once some session of the database waits for a lock (or after about ten seconds)."""
    with psycopg.connect(database_url, autocommit=True) as watcher:
        for _ in range(1000):
            waiting = watcher.execute(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"""
            ).fetchone()
            if waiting and waiting[0]:
                return
            threading.Event().wait(0.01)


Step = Callable[[psycopg.Connection], None]


def in_transaction(pool: ConnectionPool, step: Step) -> None:
    with pool.connection() as conn, conn.transaction():
        step(conn)


def on_autocommit(pool: ConnectionPool, step: Step) -> None:
    """`step` on one of the pool's autocommit connections, as a handler run without an inbox is."""
    with pool.connection() as conn:
        step(conn)


def first_then_second(pool: ConnectionPool, first: Step, second: Step, *, autocommit: bool = False) -> None:
    """`first` done in a transaction left open while `second` starts in another (with `autocommit`,
    on an autocommit connection, each statement its own transaction); then both end."""
    with pool.connection() as conn, conn.transaction():
        first(conn)
        other = threading.Thread(target=on_autocommit if autocommit else in_transaction, args=(pool, second))
        other.start()
        other.join(timeout=1.0)  # the second finishes now unless it waits for the first to end
    other.join(timeout=10.0)
    assert not other.is_alive()
