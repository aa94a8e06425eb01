"""Claiming the delivery rows of the emails about to be sent, each under a lease held while its
batch runs (see deliveries for the log itself, and service_layer.dispatch for the batches).

A claim is committed before its email can go out, so a redelivered event is not sent again once
sent. A row left 'sending' is one whose claimer is sending it, or one whose claimer died between
the server's acceptance and the mark (the one duplicate window): the lease tells them apart. While
it is live the row is left alone — its claimer, cut off from Kafka but not from the database, may
have lost its partitions to another worker while still sending — and once it lapsed the row is
claimed again.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol
from uuid import UUID, uuid4

import psycopg


class Claimable(Protocol):
    event_id: str
    kind: str
    account_id: UUID | None
    recipient: str
    locale: str | None


# How long a claim holds its row 'sending' (on the database's clock) unless its batch renews it, every
# LEASE_S / 3. Long enough for two renewals in a row to be late (a busy database, a pause of the
# worker) before another worker may take the row; short, because a worker that died holds its
# unmarked rows that long: their events' partitions are retried until then, sending nothing.
LEASE_S = 10.0


@dataclass(frozen=True)
class Claims:
    """What a claim did with the emails asked: those it claimed, and those it left to another claim
    (their rows 'sending' under a live lease of another claimer, or changed by it since: failed,
    to be retried) — to be tried again once that claim is over. The others were sent or skipped, or
    their accounts erased."""

    claimed: set[str]
    held: set[str]


def claim(
    conn: psycopg.Connection,
    emails: Sequence[Claimable],
    claimer: UUID | None = None,
    lease_s: float = LEASE_S,
) -> Claims:
    """Record the attempts about to be made, in one statement, under a lease of `lease_s` held by
    `claimer` (None: one of its own). An email is not claimed when it was already sent or skipped,
    when its account was erased, or when its row is 'sending' under another claimer's live lease:
    that claimer may be sending it right now (a worker cut off from Kafka, not from the database,
    whose partitions went to another); a lapsed lease is a claimer that died, its row claimed again.
    A second statement, only when some were not claimed, tells which of those are held.

    `emails` has one email per event (a row cannot be claimed twice in one statement). The batch
    goes as one JSON document: psycopg's typing of five arrays cost the worker more than the query.
    """
    batch = [
        {
            "event_id": email.event_id,
            "kind": email.kind,
            "account_id": email.account_id and str(email.account_id),
            "recipient": email.recipient,
            "locale": email.locale,
        }
        for email in emails
    ]
    rows = conn.execute(
        """INSERT INTO deliveries (event_id, kind, account_id, recipient, locale, status, attempts,
                                   lease_until, claimed_by)
           SELECT email.event_id, email.kind, email.account_id, email.recipient, email.locale, 'sending', 1,
                  now() + %(lease)s, %(claimer)s
           FROM jsonb_to_recordset(%(batch)s::jsonb)
                AS email (event_id uuid, kind text, account_id uuid, recipient text, locale text)
           WHERE NOT EXISTS (SELECT 1 FROM erased_accounts WHERE account_id = email.account_id)
           ON CONFLICT (event_id) DO UPDATE
               SET status = 'sending', attempts = deliveries.attempts + 1, updated_at = now(),
                   lease_until = EXCLUDED.lease_until, claimed_by = EXCLUDED.claimed_by
               WHERE deliveries.status NOT IN ('sent', 'skipped')
                 AND (deliveries.status <> 'sending' OR deliveries.lease_until IS NULL
                      OR deliveries.lease_until <= now() OR deliveries.claimed_by = EXCLUDED.claimed_by)
           RETURNING event_id::text""",
        {"batch": json.dumps(batch), "lease": timedelta(seconds=lease_s), "claimer": claimer or uuid4()},
    ).fetchall()
    claimed = {row[0] for row in rows}
    if len(claimed) == len(emails):
        return Claims(claimed, set())
    held = conn.execute(
        """SELECT event_id::text FROM deliveries
           WHERE event_id = ANY(%s::uuid[]) AND status NOT IN ('sent', 'skipped')""",
        ([email.event_id for email in emails if email.event_id not in claimed],),
    ).fetchall()
    return Claims(claimed, {row[0] for row in held})


def renew(
    conn: psycopg.Connection, event_ids: Sequence[str], claimer: UUID, lease_s: float = LEASE_S
) -> None:
    """Hold these events' rows `lease_s` longer, those still 'sending' under `claimer`'s claim."""
    conn.execute(
        """UPDATE deliveries SET lease_until = now() + %s
           WHERE event_id = ANY(%s::uuid[]) AND status = 'sending' AND claimed_by = %s""",
        (timedelta(seconds=lease_s), list(event_ids), claimer),
    )
