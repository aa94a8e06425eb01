"""The delivery log: one row per email, committed before it is sent, so a redelivery never sends twice.

Every statement is autocommitted (the mailer's consumer runs without the generic inbox, this log
being its inbox): the 'sending' row is durable before the SMTP conversation starts, a failure stays
recorded, and the row is marked sent right after the server accepted the email. A crash between
that acceptance and the mark leaves it 'sending', and the redelivered event sends it again — the
one window for a duplicate (see service_layer.dispatch).

What became of each mail goes out as an event through the outbox, in the transaction (or the
statement) that records it: EmailDelivered for a newsletter mail the server accepted (the
newsletter's figures; the other mails' acceptances are not asked for, and a signup's code mail
should not pay for one), EmailFailed for any mail that failed for good — hard when the address
takes no mail, which also suppresses it for newsletters (adapters/suppressions.py). Each EmailFailed
says when the mail that showed the failure was handed over (`sent_at`): a bounce of a mail sent
before the account last subscribed to the newsletter ends no subscription.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.events.topics import DELIVERY_RESULTS
from mailer.adapters.claims import Claimable
from mailer.adapters.suppressions import suppress

MAX_ERROR_LENGTH = 1000
SOURCE = "/mailer"


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
    account_id: UUID | None  # for the audit of a look-up; not shown to operators


class DeliveryLog:
    """Reads and writes the deliveries table through its own pool; publishes results to `results_topic`."""

    def __init__(self, pool: ConnectionPool, results_topic: str = DELIVERY_RESULTS) -> None:
        self.pool = pool
        self.results_topic = results_topic

    def skip(
        self, event_id: str, kind: str, account_id: UUID | None, recipient: str | None, reason: str
    ) -> None:
        """Record that this event's email is not sent on purpose, and why (unless it was sent already)."""
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO deliveries (event_id, kind, account_id, recipient, status, last_error)
                   VALUES (%(event)s, %(kind)s, %(account)s, %(recipient)s, 'skipped', %(reason)s)
                   ON CONFLICT (event_id) DO UPDATE
                       SET status = 'skipped', account_id = EXCLUDED.account_id,
                           recipient = EXCLUDED.recipient, last_error = EXCLUDED.last_error,
                           locale = CASE WHEN EXCLUDED.recipient IS NULL THEN NULL ELSE deliveries.locale END,
                           updated_at = now()
                       WHERE deliveries.status <> 'sent'""",
                {
                    "event": event_id,
                    "kind": kind,
                    "account": account_id,
                    "recipient": recipient,
                    "reason": reason,
                },
            )

    def erased(self, account_id: UUID) -> bool:
        """True when the account was deleted and its addresses erased."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM erased_accounts WHERE account_id = %s", (account_id,)
            ).fetchone()
        return row is not None

    def latest_locale(self, account_id: UUID) -> str | None:
        """The language of the newest email to the account whose event named one; not a newsletter's,
        which is the issue's (an editor's test send goes in every language, English when the
        account has none)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                """SELECT locale FROM deliveries
                   WHERE account_id = %s AND locale IS NOT NULL AND kind <> 'newsletter'
                   ORDER BY created_at DESC LIMIT 1""",
                (account_id,),
            ).fetchone()
        return row[0] if row else None

    def mark_failed(self, event_id: str, error: str, *, permanent: bool, hard: bool = False) -> None:
        """The attempt failed: 'retrying' when it may pass later, 'failed' when given up, and then, once,
        EmailFailed; a hard bounce also suppresses the address. The attempt was made when it was
        claimed (the row's updated_at until this update). A mail sent or skipped meanwhile (the
        consumer gives up on an event another worker held, and sent, while it retried) stays so."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                """SELECT kind, account_id, recipient, status, updated_at FROM deliveries
                   WHERE event_id = %s FOR UPDATE""",
                (event_id,),
            ).fetchone()
            if row is not None and row[3] in ("sent", "skipped"):
                return
            conn.execute(
                "UPDATE deliveries SET status = %s, last_error = %s, updated_at = now() WHERE event_id = %s",
                ("failed" if permanent else "retrying", error[:MAX_ERROR_LENGTH], event_id),
            )
            if not permanent or row is None or row[3] == "failed" or row[2] is None:
                return
            kind, account_id, recipient, _, tried_at = row
            if hard:
                suppress(conn, recipient, error, "smtp", account_id=account_id, sent_at=tried_at)
            publish_failure(
                conn, self.results_topic, event_id, kind, account_id, recipient, error,
                hard=hard, via="smtp", sent_at=tried_at,
            )  # fmt: skip

    def skip_suppressed(self, email: Claimable) -> None:
        """A newsletter to a suppressed address: recorded as skipped, and EmailFailed (hard) so the issue
        counts it bounced, with the time the mail that bounced was sent (its suppression's)."""
        reason = "the address bounced for good earlier (suppressed)"
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                """UPDATE deliveries SET status = 'skipped', last_error = %s, updated_at = now()
                   WHERE event_id = %s AND status <> 'skipped'
                   RETURNING (SELECT coalesce(sent_at, created_at) FROM suppressions
                              WHERE address = lower(%s))""",
                (reason, email.event_id, email.recipient),
            ).fetchone()
            if row is not None:
                publish_failure(
                    conn, self.results_topic, email.event_id, email.kind, email.account_id, email.recipient,
                    reason, hard=True, via="suppressed", sent_at=row[0],
                )  # fmt: skip


def deliveries_to(conn: psycopg.Connection, email: str, limit: int = 100) -> list[Delivery]:
    """The newest deliveries to one address, whatever its case."""
    # Lower-cased here too: identity writes addresses with Python's lower(), and the database's
    # lower() (a C locale's) leaves capitals beyond ASCII ("É") as they are.
    with conn.cursor(row_factory=class_row(Delivery)) as cursor:
        return cursor.execute(
            """SELECT event_id, kind, status, attempts, last_error, message_id,
                      created_at, updated_at, sent_at, account_id
               FROM deliveries WHERE lower(recipient) = lower(%s)
               ORDER BY created_at DESC LIMIT %s""",
            (email.lower(), limit),
        ).fetchall()


def sent_events(conn: psycopg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Which of these events' emails have been sent (or skipped on purpose) by now."""
    rows = conn.execute(
        """SELECT event_id::text FROM deliveries
           WHERE event_id::text = ANY(%s) AND status IN ('sent', 'skipped')""",
        (list(event_ids),),
    ).fetchall()
    return {event_id for (event_id,) in rows}


def erased_among(conn: psycopg.Connection, account_ids: Iterable[UUID]) -> set[UUID]:
    """Which of these accounts were deleted and their addresses erased."""
    rows = conn.execute(
        "SELECT account_id FROM erased_accounts WHERE account_id = ANY(%s)", (list(account_ids),)
    ).fetchall()
    return {row[0] for row in rows}


# The CloudEvent of each newsletter mail marked sent, built by the statement that marks it.
DELIVERED_EVENTS = """
    INSERT INTO outbox (event_id, topic, record_key, record_value)
    SELECT id, %(topic)s, coalesce(account_id::text, event_id::text), jsonb_build_object(
               'specversion', '1.0', 'id', id, 'source', '/mailer', 'type', 'EmailDelivered',
               'time', at, 'subject', coalesce(account_id::text, event_id::text),
               'datacontenttype', 'application/json',
               'data', jsonb_build_object('delivery_id', event_id, 'kind', kind, 'email', recipient,
                                          'account_id', account_id, 'at', at))::text
    FROM (SELECT gen_random_uuid() AS id, event_id, kind, account_id, recipient,
                 to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS at
          FROM marked WHERE kind = 'newsletter' AND recipient IS NOT NULL) AS delivered"""


MARK_SENT = """WITH marked AS (
        UPDATE deliveries SET status = 'sent', sent_at = now(), updated_at = now(),
               message_id = accepted.message_id, last_error = accepted.note
        FROM jsonb_to_recordset(%(accepted)s::jsonb) AS accepted (event_id uuid, message_id text, note text)
        WHERE deliveries.event_id = accepted.event_id
        RETURNING deliveries.event_id, kind, account_id, recipient, sent_at)"""


def mark_sent(
    conn: psycopg.Connection,
    accepted: Sequence[tuple[str, str]],
    results_topic: str = DELIVERY_RESULTS,
    *,
    newsletters: bool = True,
    notes: Mapping[str, str] | None = None,
) -> None:
    """The SMTP server accepted these messages: (event id, Message-ID) pairs, in one statement, which
    also puts the newsletter mails' EmailDelivered in the outbox. Without `newsletters` among them the
    outbox is left alone: its trigger would wake the relay for nothing after every mark. `notes`:
    what operators should know of a mail sent (by event id; its last_error), else nothing."""
    notes = notes or {}
    conn.execute(
        MARK_SENT + (DELIVERED_EVENTS if newsletters else " SELECT 1"),
        {
            "accepted": json.dumps(
                [
                    {"event_id": event_id, "message_id": message_id, "note": _note(notes.get(event_id))}
                    for event_id, message_id in accepted
                ]
            ),
            "topic": results_topic,
        },
    )


def _note(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_LENGTH]


def publish_failure(
    conn: psycopg.Connection,
    topic: str,
    event_id: str,
    kind: str,
    account_id: UUID | None,
    recipient: str,
    reason: str,
    *,
    hard: bool,
    via: str,
    sent_at: datetime | None,
) -> None:
    """EmailFailed of one mail, in the caller's transaction; `sent_at`: when the mail that showed the
    failure was handed over (None: not known, left out)."""
    data = {
        "delivery_id": str(event_id),
        "kind": kind,
        "email": recipient,
        "account_id": str(account_id) if account_id else None,
        "at": datetime.now(UTC).isoformat(),
        "class": "hard" if hard else "soft",
        "reason": reason[:MAX_ERROR_LENGTH],
        "via": via,
    }
    if sent_at is not None:
        data["sent_at"] = sent_at.astimezone(UTC).isoformat()
    subject = str(account_id or event_id)
    outbox.enqueue(conn, topic, new_event("EmailFailed", source=SOURCE, subject=subject, data=data))


# A row of the erased account's address that no other live account holds: none, or one erased too.
NO_LIVE_ACCOUNT = """({table}.account_id IS NULL
    OR EXISTS (SELECT 1 FROM erased_accounts e WHERE e.account_id = {table}.account_id))"""


def erase_account(conn: psycopg.Connection, account_id: UUID) -> int:
    """Forget the account's addresses (and any mail to them, and their suppressions) but keep the
    anonymous rows; the count.

    Several transactions on purpose (`conn` autocommits), the erased id committed before the erasure
    starts: a delivery claimed meanwhile is either seen by this erasure or sees the erased id in
    its check after claiming (Mailer._deliver), whatever the interleaving.
    """
    conn.execute("INSERT INTO erased_accounts (account_id) VALUES (%s) ON CONFLICT DO NOTHING", (account_id,))
    conn.execute("DELETE FROM newsletter_subscriptions WHERE account_id = %s", (account_id,))
    # A suppression is the address (and the reply that named it): it goes while the log still says
    # whose, or by the account it keeps once the account's mails have expired from the log. Not one
    # of another account that has the address since (deleted, then signed up again): an erasure handled
    # late leaves it alone, as it leaves that account's mails.
    conn.execute(
        f"""DELETE FROM suppressions
            WHERE account_id = %(account)s
               OR (address IN (SELECT lower(recipient) FROM deliveries
                               WHERE account_id = %(account)s AND recipient IS NOT NULL)
                   AND {NO_LIVE_ACCOUNT.format(table="suppressions")})""",
        {"account": account_id},
    )
    cursor = conn.execute(
        f"""UPDATE deliveries SET recipient = NULL, account_id = NULL, locale = NULL, last_error = NULL,
                   updated_at = now()
            WHERE account_id = %(account)s
               OR (lower(recipient) IN (SELECT lower(recipient) FROM deliveries
                                        WHERE account_id = %(account)s AND recipient IS NOT NULL)
                   AND {NO_LIVE_ACCOUNT.format(table="deliveries")})""",
        {"account": account_id},
    )
    # A suppression made meanwhile, by a bounce (or a refusal) whose row the update above waited for.
    conn.execute("DELETE FROM suppressions WHERE account_id = %s", (account_id,))
    return cursor.rowcount
