"""Identity's SQL: accounts, codes, code sends and sessions. Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from identity.domain.codes import Purpose, StoredCode


@dataclass(frozen=True)
class Account:
    id: UUID
    email: str
    password_hash: str
    created_at: datetime
    verified_at: datetime | None
    password_reset_at: datetime | None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


ACCOUNT_COLUMNS = "id, email, password_hash, created_at, verified_at, password_reset_at"


@dataclass(frozen=True)
class PublishedState:
    """What identity.accounts.v1 says about an account."""

    id: UUID
    email: str
    created_at: datetime
    verified_at: datetime | None
    state_version: int


@dataclass(frozen=True)
class SessionState:
    """A recorded access token and whether it still stands."""

    account_id: UUID
    revoked_at: datetime | None
    expires_at: datetime


def insert_account(
    conn: psycopg.Connection, account_id: UUID, email: str, password_hash: str
) -> Account | None:
    """The new account, or None when the email is already registered."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"""INSERT INTO accounts (id, email, password_hash) VALUES (%s, %s, %s)
                ON CONFLICT (lower(email)) DO NOTHING RETURNING {ACCOUNT_COLUMNS}""",
            (account_id, email, password_hash),
        ).fetchone()


def lock_account_by_email(conn: psycopg.Connection, email: str) -> Account | None:
    """The account with that email, locked until the transaction ends (serialises code issuing)."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(email) = lower(%s) FOR UPDATE",
            (email,),
        ).fetchone()


def find_account_by_email(conn: psycopg.Connection, email: str) -> Account | None:
    """The account with that email, without locking it."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(email) = lower(%s)", (email,)
        ).fetchone()


def find_account(conn: psycopg.Connection, account_id: UUID, *, lock: bool = False) -> Account | None:
    """The account with that id; with `lock`, locked until the transaction ends."""
    locking = " FOR UPDATE" if lock else ""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = %s{locking}", (account_id,)
        ).fetchone()


def next_state_version(conn: psycopg.Connection, account_id: UUID) -> PublishedState:
    """Count one more change of the account's published state; the state as it is now."""
    with conn.cursor(row_factory=class_row(PublishedState)) as cur:
        row = cur.execute(
            """UPDATE accounts SET state_version = state_version + 1 WHERE id = %s
               RETURNING id, email, created_at, verified_at, state_version""",
            (account_id,),
        ).fetchone()
    assert row is not None, "the account changed in this transaction exists"
    return row


def mark_verified(conn: psycopg.Connection, account_id: UUID) -> datetime:
    """Set the account verified now; return when."""
    row = conn.execute(
        "UPDATE accounts SET verified_at = now() WHERE id = %s RETURNING verified_at", (account_id,)
    ).fetchone()
    assert row is not None
    return row[0]


def code_sends_since(conn: psycopg.Connection, account_id: UUID, purpose: Purpose, seconds: int) -> int:
    """How many codes of this purpose were sent to the account in the last `seconds`."""
    row = conn.execute(
        """SELECT count(*) FROM code_sends
           WHERE account_id = %s AND purpose = %s AND sent_at > now() - make_interval(secs => %s)""",
        (account_id, purpose, seconds),
    ).fetchone()
    return row[0] if row else 0


def replace_code(
    conn: psycopg.Connection, account_id: UUID, purpose: Purpose, mac: bytes, expires_at: datetime
) -> None:
    """Store a new live code for the account and purpose, voiding the previous one."""
    conn.execute(
        """INSERT INTO codes (account_id, purpose, code_mac, expires_at) VALUES (%s, %s, %s, %s)
           ON CONFLICT (account_id, purpose) DO UPDATE
           SET code_mac = excluded.code_mac, expires_at = excluded.expires_at,
               attempts = 0, used_at = NULL, issued_at = now()""",
        (account_id, purpose, mac, expires_at),
    )
    conn.execute("INSERT INTO code_sends (account_id, purpose) VALUES (%s, %s)", (account_id, purpose))


def count_code_attempt(conn: psycopg.Connection, account_id: UUID, purpose: Purpose) -> StoredCode | None:
    """Count one attempt at the live code, atomically, and return it; None if there is none."""
    with conn.cursor(row_factory=class_row(StoredCode)) as cur:
        return cur.execute(
            """UPDATE codes SET attempts = attempts + 1
               WHERE account_id = %s AND purpose = %s AND used_at IS NULL
               RETURNING code_mac, expires_at, attempts""",
            (account_id, purpose),
        ).fetchone()


def use_code(conn: psycopg.Connection, account_id: UUID, purpose: Purpose) -> None:
    """Spend the live code: it never works again."""
    conn.execute(
        "UPDATE codes SET used_at = now() WHERE account_id = %s AND purpose = %s",
        (account_id, purpose),
    )


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


def revoke_session(conn: psycopg.Connection, jti: UUID) -> None:
    """End one session (logout)."""
    conn.execute("UPDATE sessions SET revoked_at = now() WHERE jti = %s AND revoked_at IS NULL", (jti,))


def revoke_all_sessions(conn: psycopg.Connection, account_id: UUID) -> None:
    """End every session of the account."""
    conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL", (account_id,)
    )


def set_password_hash(conn: psycopg.Connection, account_id: UUID, password_hash: str) -> None:
    """Replace the stored hash of the same password (a rehash with newer parameters)."""
    conn.execute("UPDATE accounts SET password_hash = %s WHERE id = %s", (password_hash, account_id))


def reset_password(conn: psycopg.Connection, account_id: UUID, password_hash: str) -> datetime:
    """Store the new password; return the reset time, rounded up to a whole second (migration 002)."""
    row = conn.execute(
        """UPDATE accounts
           SET password_hash = %s, password_changed_at = now(),
               password_reset_at = date_trunc('second', now()) + interval '1 second'
           WHERE id = %s RETURNING password_reset_at""",
        (password_hash, account_id),
    ).fetchone()
    assert row is not None
    return row[0]


def insert_reset_token(
    conn: psycopg.Connection, token_hash: bytes, account_id: UUID, expires_at: datetime
) -> None:
    """Record a reset token (its hash), voiding the account's earlier ones."""
    conn.execute("DELETE FROM password_reset_tokens WHERE account_id = %s", (account_id,))
    conn.execute(
        "INSERT INTO password_reset_tokens (token_hash, account_id, expires_at) VALUES (%s, %s, %s)",
        (token_hash, account_id, expires_at),
    )


def spend_reset_token(conn: psycopg.Connection, token_hash: bytes) -> UUID | None:
    """Use a live reset token once; the account it belongs to, or None when unknown, used or expired."""
    row = conn.execute(
        """UPDATE password_reset_tokens SET used_at = now()
           WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()
           RETURNING account_id""",
        (token_hash,),
    ).fetchone()
    return row[0] if row else None


def delete_account(conn: psycopg.Connection, account_id: UUID) -> None:
    """Erase the account with its codes, sessions and reset tokens, its sent or code events and its
    state records (the tombstone written next supersedes them)."""
    conn.execute("DELETE FROM accounts WHERE id = %s", (account_id,))
    conn.execute(
        """DELETE FROM outbox WHERE record_key = %s
           AND (published_at IS NOT NULL OR topic IN ('identity.codes.v1', 'identity.accounts.v1'))""",
        (str(account_id),),
    )
