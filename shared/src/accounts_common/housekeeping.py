"""Housekeeping: delete the rows that have served their time, in small batches, and measure the work.

Each service lists its own tables as `Expiry` rules and hands them to the process that already runs
in a loop (the outbox relay, a consumer worker), which applies them every few minutes.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from prometheus_client import Counter, Histogram
from psycopg import sql

log = logging.getLogger(__name__)

BATCH_ROWS = 5000  # short transactions: no long lock, no huge WAL burst
ROWS_DELETED = Counter("housekeeping_rows_deleted_total", "Rows deleted by housekeeping", ["table"])
SECONDS = Histogram(
    "housekeeping_seconds",
    "Time deleting one table's expired rows took",
    ["table"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300),
)


@dataclass(frozen=True)
class Expiry:
    """Rows of `table` whose timestamp `column` is more than `max_age_s` seconds in the past go.

    A column holding an expiry time (sessions' `expires_at`) takes a `max_age_s` of 0. `unless`, an
    SQL condition on the row (named by its table), keeps a row however old while it holds.
    """

    table: str
    column: str
    max_age_s: float
    unless: str = ""


def delete_expired(conn: psycopg.Connection, expiries: Sequence[Expiry]) -> dict[str, int]:
    """Apply each rule on `conn` (outside a transaction); the rows deleted per table."""
    started = time.perf_counter()
    deleted = {}
    for expiry in expiries:
        with SECONDS.labels(expiry.table).time():
            deleted[expiry.table] = _delete_in_batches(conn, expiry)
        ROWS_DELETED.labels(expiry.table).inc(deleted[expiry.table])
    elapsed = time.perf_counter() - started
    if any(deleted.values()):
        log.info("housekeeping: deleted %s in %.2fs", deleted, elapsed)
    return deleted


def _delete_in_batches(conn: psycopg.Connection, expiry: Expiry) -> int:
    kept = sql.SQL(f" AND NOT ({expiry.unless})" if expiry.unless else "")  # noqa: S608 - code's own SQL
    statement = sql.SQL(
        """DELETE FROM {table} WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM {table} WHERE {column} < now() - make_interval(secs => %s){kept} LIMIT %s))"""
    ).format(table=sql.Identifier(expiry.table), column=sql.Identifier(expiry.column), kept=kept)
    total = 0
    while True:
        with conn.transaction():  # one short transaction per batch
            count = conn.execute(statement, (expiry.max_age_s, BATCH_ROWS)).rowcount
        total += count
        if count < BATCH_ROWS:
            return total


class Schedule:
    """When the next housekeeping round is due: every `interval_s` seconds (0: never), the first
    one interval after the start, so that a restarting process gets to its real work first."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next = time.monotonic() + interval_s

    def due(self) -> bool:
        """True, at most once per interval, when a round should run now."""
        if not self.interval_s or time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.interval_s
        return True
