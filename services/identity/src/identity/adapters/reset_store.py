"""Identity's SQL for password resets: the single-use reset tokens and the reset itself. Parameters
are always bound."""

from datetime import datetime
from uuid import UUID

import psycopg

from identity.adapters.account_store import SESSIONS_END


def reset_password(
    conn: psycopg.Connection, account_id: UUID, password_hash: str
) -> tuple[datetime, str | None]:
    """Store the new password; return the reset time, a whole second after every token issued before
    (account_store.SESSIONS_END), and the path the reset was asked from."""
    before = conn.execute("SELECT reset_return_to FROM accounts WHERE id = %s", (account_id,)).fetchone()
    row = conn.execute(
        f"""UPDATE accounts
            SET password_hash = %s, password_changed_at = now(), password_reset_at = {SESSIONS_END},
                reset_return_to = NULL
            WHERE id = %s RETURNING password_reset_at""",
        (password_hash, account_id),
    ).fetchone()
    assert row is not None and before is not None
    return row[0], before[0]


def set_reset_return_to(conn: psycopg.Connection, account_id: UUID, return_to: str | None) -> None:
    """Remember where the reset was asked from, for the "password updated" mail."""
    conn.execute("UPDATE accounts SET reset_return_to = %s WHERE id = %s", (return_to, account_id))


def insert_reset_token(
    conn: psycopg.Connection, token_hash: bytes, account_id: UUID, expires_at: datetime
) -> None:
    """Record a reset token (its hash), voiding the account's earlier ones."""
    conn.execute("DELETE FROM password_reset_tokens WHERE account_id = %s", (account_id,))
    conn.execute(
        "INSERT INTO password_reset_tokens (token_hash, account_id, expires_at) VALUES (%s, %s, %s)",
        (token_hash, account_id, expires_at),
    )


def live_token_account(conn: psycopg.Connection, token_hash: bytes) -> UUID | None:
    """The account of a live reset token, without using it; None when unknown, used or expired."""
    row = conn.execute(
        """SELECT account_id FROM password_reset_tokens
           WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()""",
        (token_hash,),
    ).fetchone()
    return row[0] if row else None


def spend_reset_token(conn: psycopg.Connection, token_hash: bytes) -> UUID | None:
    """Use a live reset token once; the account it belongs to, or None when unknown, used or expired."""
    row = conn.execute(
        """UPDATE password_reset_tokens SET used_at = now()
           WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()
           RETURNING account_id""",
        (token_hash,),
    ).fetchone()
    return row[0] if row else None
