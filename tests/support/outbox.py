"""What a service wrote to its transactional outbox, read back by tests: the records' values as the
relay will publish them (CloudEvents, decoded), in the order they were written."""

import json
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common.events import CloudEvent, parse_event

# What each filter of outbox_records compares, with its value as the parameter.
FILTERS = {
    "topic": "topic = %s",
    "key": "record_key = %s",
    "email": "record_value::jsonb #>> '{data,email}' = %s",
}


def outbox_records(
    database: ConnectionPool | str, *, newest_first: bool = False, **filters: str
) -> list[dict[str, Any]]:
    """The outbox's records, oldest first (or newest first), narrowed by `topic` (as written, before
    the relay's prefix), `key` and the data's `email`."""
    return [json.loads(value) for value in _values(database, newest_first, filters)]


def outbox_events(database: ConnectionPool | str, **filters: str) -> list[CloudEvent]:
    """The same records read as a consumer reads them: InvalidEvent when one is not a CloudEvent."""
    return [parse_event(value) for value in _values(database, False, filters)]


def _values(database: ConnectionPool | str, newest_first: bool, filters: dict[str, str]) -> list[str]:
    where = " AND ".join(FILTERS[name] for name in filters) or "TRUE"
    order = "DESC" if newest_first else "ASC"
    with _connection(database) as conn:
        rows = conn.execute(
            f"SELECT record_value FROM outbox WHERE {where} ORDER BY id {order}", list(filters.values())
        ).fetchall()
    return [value for (value,) in rows]


def _connection(database: ConnectionPool | str) -> AbstractContextManager[psycopg.Connection]:
    return database.connection() if isinstance(database, ConnectionPool) else psycopg.connect(database)


def oldest_pending_age(metrics: str) -> float | None:
    """`outbox_oldest_pending_age_seconds` in a /metrics answer; None when it is not there."""
    for line in metrics.splitlines():
        if line.startswith("outbox_oldest_pending_age_seconds "):
            return float(line.split()[1])
    return None
