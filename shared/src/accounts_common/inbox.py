"""The consumer's inbox: a handler runs once per event and consumer group, in one transaction with
the row that records the event as processed."""

from concurrent.futures import Future
from typing import Any, Protocol

import psycopg

from accounts_common.events import CloudEvent


class Handler(Protocol):
    """Handles one event. Outside an inbox transaction (inbox=False) it may leave the work pending
    and return its Future: the consumer's `finish_batch` completes it before offsets are committed."""

    def __call__(
        self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]
    ) -> "Future[None] | None": ...


def claim_event(conn: psycopg.Connection, consumer: str, event_id: str) -> bool:
    """Record the event as processed by `consumer`; False when it already was."""
    row = conn.execute(
        """INSERT INTO processed_events (consumer, event_id) VALUES (%s, %s)
           ON CONFLICT DO NOTHING RETURNING 1""",
        (consumer, event_id),
    ).fetchone()
    return row is not None


def handle_once(
    conn: psycopg.Connection,
    group: str,
    handler: Handler,
    event: CloudEvent,
    data: dict[str, Any],
    *,
    inbox: bool,
) -> "str | Future[None]":
    """Run the handler once per event: in one transaction with the inbox row ("handled", or
    "duplicate" when the group had it already), or, for a group whose handlers deduplicate by
    themselves (inbox=False), on the autocommit connection, where it may leave work pending."""
    if not inbox:
        return handler(conn, event, data) or "handled"
    with conn.transaction():
        if not claim_event(conn, group, event.id):
            return "duplicate"
        if handler(conn, event, data) is not None:
            raise TypeError(f"{event.type}: work left pending cannot join the inbox transaction")
    return "handled"
