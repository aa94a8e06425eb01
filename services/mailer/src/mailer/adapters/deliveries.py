"""The delivery log: one row per email, committed before it is sent, so a redelivery never sends twice.

Every statement is autocommitted (the mailer's consumer runs without the generic inbox, this log
being its inbox): the 'sending' row is durable before the SMTP conversation starts, a failure stays
recorded, and the row is marked sent right after the server accepted the email. A crash between
that acceptance and the mark leaves it 'sending', and the redelivered event sends it again — the
one window for a duplicate.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class Delivery:
    """One email as operators see it."""

    event_id: UUID
    kind: str
    status: str
    attempts: int
    last_error: str | None
    message_id: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class DeliveryLog:
    """Reads and writes the deliveries table through its own pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def latest_locale(self, account_id: UUID) -> str | None:
        """The language of the newest email to the account whose event named one."""
        with self.pool.connection() as conn:
            row = conn.execute(
                """SELECT locale FROM deliveries WHERE account_id = %s AND locale IS NOT NULL
                   ORDER BY created_at DESC LIMIT 1""",
                (account_id,),
            ).fetchone()
        return row[0] if row else None

    def mark_failed(self, event_id: str, error: str, *, permanent: bool) -> None:
        """The attempt failed: 'retrying' when it may pass later, 'failed' when dead-lettered."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE deliveries SET status = %s, last_error = %s, updated_at = now() WHERE event_id = %s",
                ("failed" if permanent else "retrying", error[:MAX_ERROR_LENGTH], event_id),
            )

    def for_recipient(self, email: str, limit: int = 100) -> list[Delivery]:
        """The newest deliveries to one address."""
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(Delivery)) as cursor:
            return cursor.execute(
                """SELECT event_id, kind, status, attempts, last_error, message_id,
                          created_at, updated_at, sent_at
                   FROM deliveries WHERE lower(recipient) = lower(%s)
                   ORDER BY created_at DESC LIMIT %s""",
                (email, limit),
            ).fetchall()


def claim(
    conn: psycopg.Connection,
    event_id: str,
    kind: str,
    account_id: UUID | None,
    recipient: str,
    locale: str | None = None,
) -> bool:
    """Record an attempt about to be made; False when this event's email was already sent.

    On the connection that will mark the email sent: a connection broken since its last use (the
    database restarted) fails here, before the email goes out, rather than after it (a duplicate).
    """
    row = conn.execute(
        """INSERT INTO deliveries (event_id, kind, account_id, recipient, locale, status, attempts)
           VALUES (%s, %s, %s, %s, %s, 'sending', 1)
           ON CONFLICT (event_id) DO UPDATE
               SET status = 'sending', attempts = deliveries.attempts + 1, updated_at = now()
               WHERE deliveries.status <> 'sent'
           RETURNING 1""",
        (event_id, kind, account_id, recipient, locale),
    ).fetchone()
    return row is not None


def mark_sent(conn: psycopg.Connection, event_id: str, message_id: str) -> None:
    """The SMTP server accepted the message."""
    conn.execute(
        """UPDATE deliveries SET status = 'sent', sent_at = now(), updated_at = now(),
                  message_id = %s, last_error = NULL
           WHERE event_id = %s""",
        (message_id, event_id),
    )


def erase_account(conn: psycopg.Connection, account_id: UUID) -> int:
    """Forget the account's addresses (and any mail to them) but keep the anonymous rows; the count."""
    cursor = conn.execute(
        """UPDATE deliveries SET recipient = NULL, account_id = NULL, locale = NULL, last_error = NULL,
                  updated_at = now()
           WHERE account_id = %(account)s
              OR lower(recipient) IN (SELECT lower(recipient) FROM deliveries
                                      WHERE account_id = %(account)s AND recipient IS NOT NULL)""",
        {"account": account_id},
    )
    return cursor.rowcount
