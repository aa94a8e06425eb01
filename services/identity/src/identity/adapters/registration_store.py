"""Identity's SQL for registrations: a pending credential and its code until the code is entered,
decoys included. Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from identity.adapters.account_store import ACCOUNT_COLUMNS, Account
from identity.domain.codes import StoredCode


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


def delete_expired_registrations(conn: psycopg.Connection) -> int:
    """Drop registrations (and decoys) past their expiry, with their codes; return how many."""
    return conn.execute("DELETE FROM registrations WHERE expires_at <= now()").rowcount
