"""Identity's SQL for accounts: who they are, their published state, their password, their deletion
(registrations, sessions and resets have stores of their own). Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class Account:
    id: UUID
    email: str
    password_hash: str | None  # None until a registration's code is entered
    password_changed_at: datetime  # set by each new password (activation, reset), not by a rehash
    created_at: datetime
    verified_at: datetime | None
    password_reset_at: datetime | None
    locale: str | None
    roles_changed_at: datetime | None = None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def sessions_valid_from(self) -> datetime | None:
        """Sessions issued before this ended: a password reset or a role change (whole seconds)."""
        changes = [at for at in (self.password_reset_at, self.roles_changed_at) if at is not None]
        return max(changes, default=None)


# From when the account's sessions stand, after a password reset or a role change (migration 002): the
# next whole second, and past every token issued before, which may carry an earlier change's next second
# as its `iat` (tokens.issued_at_for: a login in the second of a change). So N changes in one second put
# the next tokens' `iat` N seconds ahead, which every check allows up to its 30 s of clock skew. In an
# UPDATE of `accounts`.
SESSIONS_END = (
    "greatest(date_trunc('second', now()), password_reset_at, roles_changed_at) + interval '1 second'"
)

ACCOUNT_COLUMNS = (
    "id, email, password_hash, password_changed_at, created_at, verified_at, password_reset_at, locale,"
    " roles_changed_at"
)


@dataclass(frozen=True)
class PublishedState:
    """What identity.accounts.v1 says about an account."""

    id: UUID
    email: str
    created_at: datetime
    verified_at: datetime | None
    state_version: int


def insert_account(
    conn: psycopg.Connection, account_id: UUID, email: str, locale: str | None
) -> Account | None:
    """A new pending account (no password yet), or None when the email is already registered."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"""INSERT INTO accounts (id, email, locale) VALUES (%s, %s, %s)
                ON CONFLICT (lower(email)) DO NOTHING RETURNING {ACCOUNT_COLUMNS}""",
            (account_id, email, locale),
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


def change_locale(conn: psycopg.Connection, account_id: UUID, locale: str) -> Account | None:
    """Set the account's language; the account as changed, or None when it had that language already
    (or is gone)."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"""UPDATE accounts SET locale = %s WHERE id = %s AND locale IS DISTINCT FROM %s
                RETURNING {ACCOUNT_COLUMNS}""",
            (locale, account_id, locale),
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


def renew_password_hash(conn: psycopg.Connection, account_id: UUID, read: str, renewed: str) -> bool:
    """Replace the hash `read` by `renewed`, a hash of the same password with newer parameters; False
    when the stored hash is no longer `read` (a reset committed since the login read it wins)."""
    replaced = conn.execute(
        "UPDATE accounts SET password_hash = %s WHERE id = %s AND password_hash = %s",
        (renewed, account_id, read),
    )
    return replaced.rowcount == 1


def delete_account(conn: psycopg.Connection, account_id: UUID) -> None:
    """Erase the account with its registrations, codes, sessions and reset tokens, its sent or code
    events and its state records (the tombstone written next supersedes them), and the decoys of its
    email."""
    conn.execute(
        """DELETE FROM registrations WHERE account_id IS NULL
           AND lower(email) = (SELECT lower(email) FROM accounts WHERE id = %s)""",
        (account_id,),
    )
    conn.execute("DELETE FROM accounts WHERE id = %s", (account_id,))
    conn.execute(
        """DELETE FROM outbox WHERE record_key = %s
           AND (published_at IS NOT NULL OR topic IN ('identity.codes.v1', 'identity.accounts.v1'))""",
        (str(account_id),),
    )


def delete_abandoned_accounts(conn: psycopg.Connection) -> list[UUID]:
    """Erase pending accounts none of whose registrations is left, and their events; their ids.

    Each is locked before it is judged again: judged on a look taken before, a registration committed
    meanwhile would go with its account (ON DELETE CASCADE). One a registration holds is left for the
    next sweep; a registration that finds its account erased makes a new one (service_layer.accounts)."""
    candidates = conn.execute(
        """SELECT id FROM accounts a WHERE verified_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.account_id = a.id) FOR UPDATE SKIP LOCKED"""
    ).fetchall()
    if not candidates:
        return []
    rows = conn.execute(
        """DELETE FROM accounts a WHERE id = ANY(%s) AND verified_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.account_id = a.id) RETURNING id""",
        ([row[0] for row in candidates],),
    ).fetchall()
    ids = [row[0] for row in rows]
    if ids:
        conn.execute(
            # The state records still waiting go too: their events go, and the tombstone supersedes them.
            """DELETE FROM outbox WHERE record_key = ANY(%s)
               AND (published_at IS NOT NULL OR topic = 'identity.codes.v1'
                    OR follows_event_id IS NOT NULL)""",
            ([str(account_id) for account_id in ids],),
        )
    return ids
