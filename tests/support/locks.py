"""Waiting, in a concurrency test, until one of the requests it started waits for a lock another holds."""

import threading

import psycopg


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
