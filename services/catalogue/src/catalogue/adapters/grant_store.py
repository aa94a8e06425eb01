"""The catalogue's SQL for download grants: the links handed out, their first use, revocations."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg


@dataclass(frozen=True)
class Grant:
    """A download link handed out: which rendition, for how long, and whether it was used yet."""

    id: UUID
    rendition_id: UUID
    expires_at: datetime


def insert_grant(
    conn: psycopg.Connection, grant: Grant, account_id: UUID, token_issued_at: datetime | None = None
) -> None:
    conn.execute(
        """INSERT INTO download_grants (id, rendition_id, account_id, expires_at, token_issued_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (grant.id, grant.rendition_id, account_id, grant.expires_at, token_issued_at),
    )


def grant_exists(conn: psycopg.Connection, grant_id: UUID, rendition_id: UUID) -> bool:
    row = conn.execute(
        "SELECT 1 FROM download_grants WHERE id = %s AND rendition_id = %s AND revoked_at IS NULL",
        (grant_id, rendition_id),
    ).fetchone()
    return row is not None


def count_first_download(conn: psycopg.Connection, grant_id: UUID) -> bool:
    """Mark the grant used and count its rendition's download, the first time only; True if counted."""
    row = conn.execute(
        """WITH used AS (
               UPDATE download_grants SET first_download_at = now()
               WHERE id = %s AND first_download_at IS NULL RETURNING rendition_id)
           UPDATE renditions SET download_count = download_count + 1
           WHERE id = (SELECT rendition_id FROM used) RETURNING 1""",
        (grant_id,),
    ).fetchone()
    return row is not None


def download_count(conn: psycopg.Connection, rendition_id: UUID) -> int:
    row = conn.execute("SELECT download_count FROM renditions WHERE id = %s", (rendition_id,)).fetchone()
    return int(row[0]) if row else 0


def forget_account_grants(conn: psycopg.Connection, account_id: UUID) -> None:
    """An erased account: every link of it dies; the used ones stay only as anonymous counts."""
    conn.execute(
        "DELETE FROM download_grants WHERE account_id = %s AND first_download_at IS NULL", (account_id,)
    )
    conn.execute(
        """UPDATE download_grants SET account_id = NULL, revoked_at = coalesce(revoked_at, now())
           WHERE account_id = %s""",
        (account_id,),
    )


def revoke_grants_before(conn: psycopg.Connection, account_id: UUID, before: datetime) -> None:
    """A password reset: the links of the account's tokens issued before it die, like the tokens, even
    those handed out after it (its event on its way, the old token still took)."""
    conn.execute(
        """UPDATE download_grants SET revoked_at = now()
           WHERE account_id = %s AND coalesce(token_issued_at, created_at) < %s AND revoked_at IS NULL""",
        (account_id, before),
    )
