"""The delivery log: one row per email, written before it is sent."""

from uuid import UUID

import psycopg


def begin(
    conn: psycopg.Connection, event_id: str, kind: str, account_id: UUID | None, recipient: str
) -> bool:
    """Record the delivery about to be attempted; False when this event already has one."""
    row = conn.execute(
        """INSERT INTO deliveries (event_id, kind, account_id, recipient, status)
           VALUES (%s, %s, %s, %s, 'sending') ON CONFLICT (event_id) DO NOTHING RETURNING 1""",
        (event_id, kind, account_id, recipient),
    ).fetchone()
    return row is not None


def mark_sent(conn: psycopg.Connection, event_id: str, message_id: str) -> None:
    """The SMTP server accepted the message."""
    conn.execute(
        "UPDATE deliveries SET status = 'sent', sent_at = now(), message_id = %s WHERE event_id = %s",
        (message_id, event_id),
    )
