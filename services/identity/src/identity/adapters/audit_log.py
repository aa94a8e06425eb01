"""Identity's SQL for the audit trail projection (migration 008). Parameters are always bound."""

from dataclasses import asdict, dataclass
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
    as_of: int | None = None  # only the entries kept up to this `seq`: see as_of()


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


# The entries a filter matches; the paged query's ORDER BY is the index operator_actions_newest's.
MATCHING = """FROM operator_actions a LEFT JOIN accounts actor ON actor.id = a.actor_account_id
    WHERE (%(actor_email)s::text IS NULL OR lower(actor.email) = lower(%(actor_email)s))
      AND (%(action)s::text IS NULL OR a.action = %(action)s)
      AND (%(since)s::timestamptz IS NULL OR a.at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR a.at < %(until)s)
      AND (%(as_of)s::bigint IS NULL OR a.seq <= %(as_of)s)"""


def entries(conn: psycopg.Connection, wanted: AuditFilter, limit: int, offset: int) -> list[AuditEntry]:
    """`limit` matching entries after the `offset` newest, newest first (the event id orders those at
    the same time, so that no entry is on two pages or none)."""
    with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        return cur.execute(
            f"""SELECT a.event_id, a.at, a.source, a.actor_account_id, actor.email AS actor_email,
                       a.via, a.action, a.target, a.outcome
                {MATCHING}
                ORDER BY a.at DESC, a.event_id
                LIMIT %(limit)s OFFSET %(offset)s""",
            {**asdict(wanted), "limit": limit, "offset": offset},
        ).fetchall()


def as_of(conn: psycopg.Connection) -> int:
    """The `seq` of the newest entry kept so far (0 for none): the trail as it stands now, for a listing
    whose later pages must not shift as entries arrive."""
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM operator_actions").fetchone()
    assert row is not None
    return int(row[0])


def count(conn: psycopg.Connection, wanted: AuditFilter) -> int:
    """How many entries match, on every page."""
    row = conn.execute(f"SELECT count(*) {MATCHING}", asdict(wanted)).fetchone()
    assert row is not None
    return int(row[0])
