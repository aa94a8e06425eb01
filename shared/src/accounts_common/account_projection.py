"""What each service keeps of identity's account events: the revocations a token check consults
(reset passwords, role changes, ended sessions, deleted accounts) and the `known_accounts` of the
services that serve verified accounts. A worker merges these handlers into its EventConsumer's."""

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from accounts_common.events import CloudEvent
from accounts_common.housekeeping import Expiry

# The class of the two-key advisory locks below: their key space is apart from the one-key locks
# (migrations, leaders), and this class apart from other two-key ones (the catalogue's uploads).
ACCOUNT_LOCK_CLASS = 0x61636374  # "acct"


def lock_account(conn: psycopg.Connection, account_id: UUID | str) -> None:
    """Until this transaction ends, no other erases the account here or acts here in its name.

    A request made with the account's token reads the deletion's marks and writes rows the deletion
    erases, and the handler of AccountDeleted does the reverse. Interleaved, a deletion could miss
    the request's new row or the request miss the deletion: the erased account (its email, a
    subscription, a download grant) would be back for good. Both take this lock first; so do the
    handlers of the account's other revocations (a reset password, an ended session) and a request
    whose token they may revoke (auth.act_for)."""
    key = (ACCOUNT_LOCK_CLASS, str(account_id))
    conn.execute("SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))", key)


def record_password_reset(conn: psycopg.Connection, _event: CloudEvent, data: dict[str, Any]) -> None:
    """PasswordReset handler: tokens of the account issued before `reset_at` are dead."""
    lock_account(conn, data["account_id"])  # a request in its name writes before or sees it (auth.act_for)
    conn.execute(
        """INSERT INTO token_revocations (account_id, revoked_before) VALUES (%s, %s)
           ON CONFLICT (account_id) DO UPDATE
           SET revoked_before = greatest(token_revocations.revoked_before, excluded.revoked_before),
               updated_at = now()""",
        (data["account_id"], data["reset_at"]),
    )


def record_role_change(conn: psycopg.Connection, _event: CloudEvent, data: dict[str, Any]) -> None:
    """StaffRoleGranted/StaffRoleRevoked handler: the account's tokens issued before the change are dead,
    so a revoked role stops counting at once and a granted one comes with a new login."""
    record_password_reset(conn, _event, {"account_id": data["account_id"], "reset_at": data["changed_at"]})


def record_account_deleted(conn: psycopg.Connection, _event: CloudEvent, data: dict[str, Any]) -> None:
    """AccountDeleted handler: every token of the account is dead, and its projected row is erased."""
    lock_account(conn, data["account_id"])
    conn.execute(
        """INSERT INTO token_revocations (account_id, deleted_at) VALUES (%s, %s)
           ON CONFLICT (account_id) DO UPDATE
           SET deleted_at = excluded.deleted_at, updated_at = now()""",
        (data["account_id"], data["deleted_at"]),
    )
    conn.execute("DELETE FROM known_accounts WHERE account_id = %s", (data["account_id"],))
    conn.execute("DELETE FROM revoked_sessions WHERE account_id = %s", (data["account_id"],))


def record_session_revoked(conn: psycopg.Connection, _event: CloudEvent, data: dict[str, Any]) -> None:
    """SessionRevoked handler: the token with that jti is dead (a logout)."""
    lock_account(conn, data["account_id"])
    conn.execute(
        """INSERT INTO revoked_sessions (session_id, account_id, revoked_at, expires_at)
           VALUES (%s, %s, %s, %s) ON CONFLICT (session_id) DO NOTHING""",
        (data["session_id"], data["account_id"], data["revoked_at"], data["expires_at"]),
    )


def record_account_verified(conn: psycopg.Connection, _event: CloudEvent, data: dict[str, Any]) -> None:
    """AccountVerified handler: the account is known and verified (unless it was already erased), in
    the language it registered with unless it has chosen another since."""
    remember_verified_account(conn, data["account_id"], data["email"], data["verified_at"])
    if data.get("locale"):
        choose_locale(conn, data["account_id"], data["locale"], data["verified_at"])


def record_password_reset_email(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
    """PasswordReset handler for projections: revoke older tokens and keep the email current."""
    record_password_reset(conn, event, data)
    conn.execute(
        "UPDATE known_accounts SET email = %s, updated_at = now() WHERE account_id = %s",
        (data["email"], data["account_id"]),
    )


def record_locale_changed(conn: psycopg.Connection, _event: CloudEvent, data: dict[str, Any]) -> None:
    """AccountLocaleChanged handler: the known account's mails are written in its new language. An
    account not known yet (unverified) brings its language with its AccountVerified."""
    choose_locale(conn, data["account_id"], data["locale"], data["changed_at"])


def choose_locale(
    conn: psycopg.Connection, account_id: UUID | str, locale: str, chosen_at: datetime | str
) -> None:
    """The known account's mails are written in `locale`, unless a choice made later is known already:
    an older event handled again (a replayed dead letter) does not bring an old language back."""
    conn.execute(
        """UPDATE known_accounts SET locale = %(locale)s, locale_chosen_at = %(at)s, updated_at = now()
           WHERE account_id = %(id)s AND (locale_chosen_at IS NULL OR locale_chosen_at <= %(at)s)""",
        {"id": account_id, "locale": locale, "at": chosen_at},
    )


def remember_verified_account(
    conn: psycopg.Connection, account_id: UUID, email: str, verified_at: datetime, locale: str | None = None
) -> None:
    """Upsert a verified account into `known_accounts`, its language kept; an erased account is never
    brought back. `locale` (a token's claim) stands only while no language is known, and any event's
    choice replaces it: the token may be older than a change whose event is on its way."""
    lock_account(conn, account_id)
    conn.execute(
        """INSERT INTO known_accounts (account_id, email, verified_at, locale)
           SELECT %(id)s, %(email)s, %(at)s, %(locale)s
           WHERE NOT EXISTS (SELECT 1 FROM token_revocations
                             WHERE account_id = %(id)s AND deleted_at IS NOT NULL)
           ON CONFLICT (account_id) DO UPDATE
           SET email = excluded.email, locale = coalesce(known_accounts.locale, excluded.locale),
               updated_at = now()""",
        {"id": account_id, "email": email, "at": verified_at, "locale": locale},
    )


def known_account_email(conn: psycopg.Connection, account_id: UUID) -> str | None:
    """The current email of a verified, not erased account; None when this service does not know it."""
    row = conn.execute("SELECT email FROM known_accounts WHERE account_id = %s", (account_id,)).fetchone()
    return None if row is None else str(row[0])


# Merge into a service's EventConsumer handlers: `handlers={**REVOCATION_HANDLERS, ...}`.
REVOCATION_HANDLERS = {
    "PasswordReset": record_password_reset,
    "AccountDeleted": record_account_deleted,
    "StaffRoleGranted": record_role_change,
    "StaffRoleRevoked": record_role_change,
    "SessionRevoked": record_session_revoked,
}

# For services that serve verified accounts: revocations plus the `known_accounts` projection.
ACCOUNT_PROJECTION_HANDLERS = {
    "AccountVerified": record_account_verified,
    "PasswordReset": record_password_reset_email,
    "AccountLocaleChanged": record_locale_changed,
    "AccountDeleted": record_account_deleted,
    "StaffRoleGranted": record_role_change,
    "StaffRoleRevoked": record_role_change,
    "SessionRevoked": record_session_revoked,
}

# For the housekeeping of a service's worker: a revoked session is forgotten an hour after its token
# expired (the hour covers the verifier's leeway and clocks apart).
REVOCATION_EXPIRIES = (Expiry("revoked_sessions", "expires_at", 3600),)


def is_revoked(conn: psycopg.Connection, account_id: UUID, issued_at: datetime, token_id: str) -> bool:
    """True when the account was deleted, its password reset after the token was issued, or the
    token's own session ended."""
    row = conn.execute(
        """SELECT 1 FROM token_revocations WHERE account_id = %s
           AND (deleted_at IS NOT NULL OR revoked_before > %s)
           UNION ALL SELECT 1 FROM revoked_sessions WHERE session_id = %s""",
        (account_id, issued_at, token_id),
    ).fetchone()
    return row is not None
