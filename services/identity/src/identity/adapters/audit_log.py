"""Identity's SQL for the audit trail projection (migration 008). Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class AuditEntry:
    """One operator action, with the actor's email while the account exists."""

    event_id: UUID
    at: datetime
    source: str
    actor_account_id: UUID | None
    actor_email: str | None
    via: str
    action: str
    target: str
    outcome: str


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list: every field left empty matches all."""

    actor_email: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


def insert(conn: psycopg.Connection, event_id: str, source: str, data: dict[str, Any]) -> None:
    """Keep the action (once: a redelivered event changes nothing)."""
    conn.execute(
        """INSERT INTO operator_actions
               (event_id, source, actor_account_id, via, action, target, outcome, at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING""",
        (
            event_id,
            source,
            data["actor_account_id"],
            data["via"],
            data["action"],
            data["target"],
            data["outcome"],
            data["at"],
        ),
    )


def entries(conn: psycopg.Connection, wanted: AuditFilter) -> list[AuditEntry]:
    """The newest matching entries first."""
    with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        return cur.execute(
            """SELECT a.event_id, a.at, a.source, a.actor_account_id, actor.email AS actor_email,
                      a.via, a.action, a.target, a.outcome
               FROM operator_actions a LEFT JOIN accounts actor ON actor.id = a.actor_account_id
               WHERE (%(actor)s::text IS NULL OR lower(actor.email) = lower(%(actor)s))
                 AND (%(action)s::text IS NULL OR a.action = %(action)s)
                 AND (%(since)s::timestamptz IS NULL OR a.at >= %(since)s)
                 AND (%(until)s::timestamptz IS NULL OR a.at < %(until)s)
               ORDER BY a.at DESC, a.event_id
               LIMIT %(limit)s""",
            {
                "actor": wanted.actor_email,
                "action": wanted.action,
                "since": wanted.since,
                "until": wanted.until,
                "limit": wanted.limit,
            },
        ).fetchall()
