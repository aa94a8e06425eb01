"""Identity's SQL: accounts, registrations, sessions and password resets (the counters around codes are in
code_counters). Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from identity.domain.codes import StoredCode


@dataclass(frozen=True)
class Account:
    id: UUID
    email: str
    password_hash: str | None  # None until a registration's code is entered
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


ACCOUNT_COLUMNS = (
    "id, email, password_hash, created_at, verified_at, password_reset_at, locale, roles_changed_at"
)


@dataclass(frozen=True)
class Registration:
    """A pending credential: a password somebody chose, usable once its own code is entered.

    A decoy (no account, no password) stands in for a registration of an already verified email.
    """

    id: UUID
    email: str
    account_id: UUID | None
    password_hash: str | None
    locale: str | None
    code_sent_at: datetime


REGISTRATION_COLUMNS = "id, email, account_id, password_hash, locale, code_sent_at"


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
    conn: psycopg.Connection, account_id: UUID, email: str, locale: str | None
) -> Account | None:
    """A new pending account (no password yet), or None when the email is already registered."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        return cur.execute(
            f"""INSERT INTO accounts (id, email, locale) VALUES (%s, %s, %s)
                ON CONFLICT (lower(email)) DO NOTHING RETURNING {ACCOUNT_COLUMNS}""",
            (account_id, email, locale),
        ).fetchone()


def insert_registration(
    conn: psycopg.Connection,
    registration: Registration,
    *,
    code_mac: bytes,
    code_expires_at: datetime,
    expires_at: datetime,
) -> None:
    """Store a registration (or decoy) with its first code."""
    conn.execute(
        """INSERT INTO registrations (id, email, account_id, password_hash, locale, code_mac,
                                      code_expires_at, code_sent_at, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            registration.id,
            registration.email,
            registration.account_id,
            registration.password_hash,
            registration.locale,
            code_mac,
            code_expires_at,
            registration.code_sent_at,
            expires_at,
        ),
    )


def lock_registration(conn: psycopg.Connection, registration_id: UUID, email: str) -> Registration | None:
    """The live registration with that id for that email, locked; None when unknown or expired."""
    with conn.cursor(row_factory=class_row(Registration)) as cur:
        return cur.execute(
            f"""SELECT {REGISTRATION_COLUMNS} FROM registrations
                WHERE id = %s AND lower(email) = lower(%s) AND expires_at > now() FOR UPDATE""",
            (registration_id, email),
        ).fetchone()


def newest_registration(conn: psycopg.Connection, account_id: UUID) -> Registration | None:
    """The account's most recent live registration."""
    with conn.cursor(row_factory=class_row(Registration)) as cur:
        return cur.execute(
            f"""SELECT {REGISTRATION_COLUMNS} FROM registrations
                WHERE account_id = %s AND expires_at > now() ORDER BY created_at DESC LIMIT 1""",
            (account_id,),
        ).fetchone()


def newest_decoy(conn: psycopg.Connection, email: str) -> Registration | None:
    """The most recent live decoy registration of a verified email (somebody else's sign-up)."""
    with conn.cursor(row_factory=class_row(Registration)) as cur:
        return cur.execute(
            f"""SELECT {REGISTRATION_COLUMNS} FROM registrations
                WHERE lower(email) = lower(%s) AND account_id IS NULL AND expires_at > now()
                ORDER BY created_at DESC LIMIT 1""",
            (email,),
        ).fetchone()


def replace_registration_code(
    conn: psycopg.Connection, registration_id: UUID, code_mac: bytes, code_expires_at: datetime
) -> None:
    """A new code for the registration, voiding its previous one."""
    conn.execute(
        """UPDATE registrations SET code_mac = %s, code_expires_at = %s, code_attempts = 0,
                                    code_sent_at = now()
           WHERE id = %s""",
        (code_mac, code_expires_at, registration_id),
    )


def count_registration_attempt(conn: psycopg.Connection, registration_id: UUID) -> StoredCode | None:
    """Count one attempt at the registration's code, atomically, and return it."""
    with conn.cursor(row_factory=class_row(StoredCode)) as cur:
        return cur.execute(
            """UPDATE registrations SET code_attempts = code_attempts + 1 WHERE id = %s
               RETURNING code_mac, code_expires_at AS expires_at, code_attempts AS attempts""",
            (registration_id,),
        ).fetchone()


def activate_registration(conn: psycopg.Connection, registration: Registration) -> Account | None:
    """Give the account the registration's password and verify it; drop its other registrations.

    None when the account is gone or was verified meanwhile (through another registration).
    """
    with conn.cursor(row_factory=class_row(Account)) as cur:
        account = cur.execute(
            f"""UPDATE accounts SET password_hash = %s, locale = coalesce(%s, locale),
                                    verified_at = now(), password_changed_at = now()
                WHERE id = %s AND verified_at IS NULL RETURNING {ACCOUNT_COLUMNS}""",
            (registration.password_hash, registration.locale, registration.account_id),
        ).fetchone()
    if account is not None:
        conn.execute("DELETE FROM registrations WHERE account_id = %s", (account.id,))
    return account


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


def revoke_all_sessions(conn: psycopg.Connection, account_id: UUID) -> None:
    """End every session of the account."""
    conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL", (account_id,)
    )


def set_password_hash(conn: psycopg.Connection, account_id: UUID, password_hash: str) -> None:
    """Replace the stored hash of the same password (a rehash with newer parameters)."""
    conn.execute("UPDATE accounts SET password_hash = %s WHERE id = %s", (password_hash, account_id))


def reset_password(
    conn: psycopg.Connection, account_id: UUID, password_hash: str
) -> tuple[datetime, str | None]:
    """Store the new password; return the reset time, rounded up to a whole second (migration 002),
    and the path the reset was asked from."""
    before = conn.execute("SELECT reset_return_to FROM accounts WHERE id = %s", (account_id,)).fetchone()
    row = conn.execute(
        """UPDATE accounts
           SET password_hash = %s, password_changed_at = now(),
               password_reset_at = date_trunc('second', now()) + interval '1 second',
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


def delete_expired_registrations(conn: psycopg.Connection) -> int:
    """Drop registrations (and decoys) past their expiry, with their codes; return how many."""
    return conn.execute("DELETE FROM registrations WHERE expires_at <= now()").rowcount


def delete_abandoned_accounts(conn: psycopg.Connection) -> list[UUID]:
    """Erase pending accounts none of whose registrations is left, and their events; their ids."""
    rows = conn.execute(
        """DELETE FROM accounts a WHERE verified_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.account_id = a.id) RETURNING id"""
    ).fetchall()
    ids = [row[0] for row in rows]
    if ids:
        conn.execute(
            """DELETE FROM outbox WHERE record_key = ANY(%s)
               AND (published_at IS NOT NULL OR topic = 'identity.codes.v1')""",
            ([str(account_id) for account_id in ids],),
        )
    return ids
