"""Identity's SQL for sessions: each access token issued, until it expires or is revoked. Parameters
are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class SessionState:
    """A recorded access token and whether it still stands."""

    account_id: UUID
    revoked_at: datetime | None
    expires_at: datetime


def insert_session(
    conn: psycopg.Connection, jti: UUID, account_id: UUID, issued_at: datetime, expires_at: datetime
) -> None:
    """Record an issued access token, so it can be revoked."""
    conn.execute(
        "INSERT INTO sessions (jti, account_id, issued_at, expires_at) VALUES (%s, %s, %s, %s)",
        (jti, account_id, issued_at, expires_at),
    )


def find_session(conn: psycopg.Connection, jti: UUID) -> SessionState | None:
    """The session of an access token; None when it never existed or its account was deleted."""
    with conn.cursor(row_factory=class_row(SessionState)) as cur:
        return cur.execute(
            "SELECT account_id, revoked_at, expires_at FROM sessions WHERE jti = %s", (jti,)
        ).fetchone()


def revoke_session(conn: psycopg.Connection, jti: UUID) -> SessionState | None:
    """End one session (logout); its new state, or None when it had already ended."""
    with conn.cursor(row_factory=class_row(SessionState)) as cur:
        return cur.execute(
            """UPDATE sessions SET revoked_at = now() WHERE jti = %s AND revoked_at IS NULL
               RETURNING account_id, revoked_at, expires_at""",
            (jti,),
        ).fetchone()


def revoke_all_sessions(conn: psycopg.Connection, account_id: UUID) -> list[tuple[UUID, SessionState]]:
    """End every session of the account; those that were still open, by jti, in their new state."""
    rows = conn.execute(
        """UPDATE sessions SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL
           RETURNING jti, account_id, revoked_at, expires_at""",
        (account_id,),
    ).fetchall()
    return [(jti, SessionState(owner, revoked_at, expires_at)) for jti, owner, revoked_at, expires_at in rows]
