"""Identity's SQL for staff: roles, TOTP credentials and recovery codes. Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from identity.adapters.account_store import SESSIONS_END

ADMINS_LOCK = 0x61646D6E  # serialises the revocations of the admin role (sole_admin)


@dataclass(frozen=True)
class StaffMember:
    account_id: UUID
    email: str
    roles: list[str]
    mfa_enrolled: bool


@dataclass(frozen=True)
class TotpCredential:
    secret_sealed: str
    confirmed_at: datetime | None
    last_step: int


def roles_of(conn: psycopg.Connection, account_id: UUID) -> tuple[str, ...]:
    """The account's staff roles, sorted."""
    rows = conn.execute(
        "SELECT role FROM staff_roles WHERE account_id = %s ORDER BY role", (account_id,)
    ).fetchall()
    return tuple(role for (role,) in rows)


def grant_role(conn: psycopg.Connection, account_id: UUID, role: str, granted_by: UUID | None) -> bool:
    """Give the account the role; False when it already had it."""
    row = conn.execute(
        """INSERT INTO staff_roles (account_id, role, granted_by) VALUES (%s, %s, %s)
           ON CONFLICT DO NOTHING RETURNING role""",
        (account_id, role, granted_by),
    ).fetchone()
    return row is not None


def revoke_role(conn: psycopg.Connection, account_id: UUID, role: str) -> bool:
    """Take the role away; False when the account did not have it."""
    row = conn.execute(
        "DELETE FROM staff_roles WHERE account_id = %s AND role = %s RETURNING role", (account_id, role)
    ).fetchone()
    return row is not None


def sole_admin(conn: psycopg.Connection, account_id: UUID) -> bool:
    """Whether the account is the only one holding the admin role. Takes the admins' lock until the
    transaction ends, so two admins revoking each other at once are judged in turn."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADMINS_LOCK,))
    rows = conn.execute("SELECT account_id FROM staff_roles WHERE role = 'admin'").fetchall()
    return [admin for (admin,) in rows] == [account_id]


def mark_roles_changed(conn: psycopg.Connection, account_id: UUID) -> datetime:
    """End the account's sessions: tokens issued before the returned time (a whole second after every
    token issued so far: account_store.SESSIONS_END) no longer count, here or in any service."""
    conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL", (account_id,)
    )
    row = conn.execute(
        f"UPDATE accounts SET roles_changed_at = {SESSIONS_END} WHERE id = %s RETURNING roles_changed_at",
        (account_id,),
    ).fetchone()
    assert row is not None
    return row[0]


def staff_members(conn: psycopg.Connection) -> list[StaffMember]:
    """Every account with a role, with its roles and whether it has a confirmed second factor."""
    with conn.cursor(row_factory=class_row(StaffMember)) as cur:
        return cur.execute(
            """SELECT a.id AS account_id, a.email, array_agg(r.role ORDER BY r.role) AS roles,
                      EXISTS (SELECT 1 FROM totp_credentials t
                              WHERE t.account_id = a.id AND t.confirmed_at IS NOT NULL) AS mfa_enrolled
               FROM staff_roles r JOIN accounts a ON a.id = r.account_id
               GROUP BY a.id, a.email ORDER BY a.email"""
        ).fetchall()


def totp_credential(
    conn: psycopg.Connection, account_id: UUID, *, lock: bool = False
) -> TotpCredential | None:
    """The account's TOTP credential, confirmed or not; with `lock`, locked until the transaction ends."""
    locking = " FOR UPDATE" if lock else ""
    with conn.cursor(row_factory=class_row(TotpCredential)) as cur:
        return cur.execute(
            "SELECT secret_sealed, confirmed_at, last_step FROM totp_credentials"
            f" WHERE account_id = %s{locking}",
            (account_id,),
        ).fetchone()


def has_confirmed_totp(conn: psycopg.Connection, account_id: UUID) -> bool:
    row = conn.execute(
        "SELECT 1 FROM totp_credentials WHERE account_id = %s AND confirmed_at IS NOT NULL", (account_id,)
    ).fetchone()
    return row is not None


def start_totp(conn: psycopg.Connection, account_id: UUID, secret_sealed: str) -> bool:
    """A new unconfirmed secret for the account, replacing an unconfirmed one; False (nothing kept)
    when the account has a confirmed one, even one confirmed while this waited for its row."""
    row = conn.execute(
        """INSERT INTO totp_credentials (account_id, secret_sealed) VALUES (%s, %s)
           ON CONFLICT (account_id) DO UPDATE
           SET secret_sealed = excluded.secret_sealed, created_at = now(), last_step = 0
           WHERE totp_credentials.confirmed_at IS NULL
           RETURNING 1""",
        (account_id, secret_sealed),
    ).fetchone()
    return row is not None


def use_totp_step(conn: psycopg.Connection, account_id: UUID, step: int, *, confirm: bool = False) -> None:
    """Record the step a code was accepted for (and, with `confirm`, that enrolment is complete)."""
    conn.execute(
        """UPDATE totp_credentials SET last_step = %s,
                  confirmed_at = CASE WHEN %s THEN coalesce(confirmed_at, now()) ELSE confirmed_at END
           WHERE account_id = %s""",
        (step, confirm, account_id),
    )


def replace_recovery_codes(conn: psycopg.Connection, account_id: UUID, code_hashes: list[bytes]) -> None:
    conn.execute("DELETE FROM recovery_codes WHERE account_id = %s", (account_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO recovery_codes (account_id, code_hash) VALUES (%s, %s)",
            [(account_id, code_hash) for code_hash in code_hashes],
        )


def remove_totp(conn: psycopg.Connection, account_id: UUID) -> bool:
    """Forget the account's TOTP credential (an enrolment under way too) and recovery codes; whether
    it had a confirmed one, a second factor."""
    conn.execute("DELETE FROM recovery_codes WHERE account_id = %s", (account_id,))
    row = conn.execute(
        "DELETE FROM totp_credentials WHERE account_id = %s RETURNING confirmed_at IS NOT NULL", (account_id,)
    ).fetchone()
    return row is not None and bool(row[0])


def use_recovery_code(conn: psycopg.Connection, account_id: UUID, code_hash: bytes) -> bool:
    """Spend an unused recovery code; False when there is no such unused code."""
    row = conn.execute(
        """UPDATE recovery_codes SET used_at = now()
           WHERE account_id = %s AND code_hash = %s AND used_at IS NULL RETURNING 1""",
        (account_id, code_hash),
    ).fetchone()
    return row is not None
