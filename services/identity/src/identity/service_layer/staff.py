"""Use cases of staff: grant and revoke roles (by an admin, or from the command line), list the staff.

A role change ends the account's sessions here at once and, through its event, in every service: a
revoked role stops counting, and a granted one arrives with the next login (after the second factor).
"""

from uuid import UUID

import psycopg

from accounts_common.audit import record_action
from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_common.roles import Role
from identity.adapters import account_store, ratelimits, session_store, staff
from identity.bootstrap import Identity
from identity.service_layer import sessions
from identity.service_layer.codes import SOURCE, publish, publish_session_revoked
from identity.service_layer.errors import LastAdmin, UnknownAccount

NO_ACCOUNT = "(no verified account)"


def grant(app: Identity, email: str, role: Role, actor: UUID | None = None) -> bool:
    """Give the verified account of `email` the role; False when it already had it."""
    return _change(app, email, role, actor, granting=True)


def revoke(app: Identity, email: str, role: Role, actor: UUID | None = None) -> bool:
    """Take the role from the account of `email`; False when it did not have it."""
    return _change(app, email, role, actor, granting=False)


def members(app: Identity, actor: UUID | None = None) -> list[staff.StaffMember]:
    """Every account holding a role, with whether it has a second factor."""
    with app.pool.connection() as conn, conn.transaction():
        if actor is not None:
            record_action(conn, source=SOURCE, actor_account_id=actor, action="staff.listed", target="staff")
        return staff.staff_members(conn)


def _change(app: Identity, email: str, role: Role, actor: UUID | None, *, granting: bool) -> bool:
    verb = "granted" if granting else "revoked"
    with app.pool.connection() as conn, conn.transaction():
        account = _verified_account(conn, email)
        # Through the API only: the command line is the way back in, and may leave no admin on purpose.
        last_admin = (
            account is not None
            and not granting
            and role is Role.ADMIN
            and actor is not None
            and staff.sole_admin(conn, account.id)
        )
        changed = account is not None and not last_admin and _apply(conn, account, role, actor, verb)
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=actor,
            action=f"staff.role-{verb}",
            # The account's id, never an email: the trail outlives an erasure (see support.py), and
            # the email of no verified account may be nobody's, or a stranger's.
            target=f"{role.value} → {account.id if account else NO_ACCOUNT}",
            outcome="refused" if account is None or last_admin else "ok" if changed else "unchanged",
        )
    if account is None:
        raise UnknownAccount(email)
    if last_admin:
        raise LastAdmin()
    return changed


def record_roles_ended(
    conn: psycopg.Connection, account_id: UUID, roles: tuple[str, ...], *, refused: bool
) -> None:
    """A staff member deleting their own account: the roles go with it (the account's AccountDeleted
    ends its tokens everywhere), recorded as revocations by them; `refused` for the only admin's, whose
    deletion is refused."""
    for role in roles:
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=account_id,
            action="staff.role-revoked",
            target=f"{role} → {account_id}",
            outcome="refused" if refused else "ok",
        )


def reset_second_factor(app: Identity, email: str, actor: UUID | None = None) -> bool:
    """Remove the second factor of the verified account of `email` (a lost phone and lost recovery
    codes): its TOTP credential and recovery codes go, and its sessions end here and, through
    SessionRevoked, everywhere. Its password alone logs in again, to enrol anew. False when it had no
    second factor; UnknownAccount when there is no such account."""
    with app.pool.connection() as conn, conn.transaction():
        account = _verified_account(conn, email)
        removed = account is not None and staff.remove_totp(conn, account.id)
        if account is not None and removed:
            for jti, ended in session_store.revoke_all_sessions(conn, account.id):
                publish_session_revoked(conn, jti, ended)
            # The way back: the new app's first codes do not wait for the wrong codes of the lost one.
            ratelimits.forget_failures(conn, sessions.second_factor_throttle_bucket(app, account.email))
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=actor,
            action="staff.second-factor-reset",
            target=str(account.id) if account else NO_ACCOUNT,
            outcome="refused" if account is None else "ok" if removed else "unchanged",
        )
    if account is None:
        raise UnknownAccount(email)
    return removed


def _verified_account(conn: psycopg.Connection, email: str) -> account_store.Account | None:
    """The verified account of `email`, locked until the transaction ends (roles are for them only)."""
    account = account_store.lock_account_by_email(conn, email)
    return account if account is not None and account.verified else None


def _apply(
    conn: psycopg.Connection, account: account_store.Account, role: Role, actor: UUID | None, verb: str
) -> bool:
    """Grant or revoke (`verb`) the role, announcing a change; False when there was nothing to change."""
    if verb == "granted":
        changed = staff.grant_role(conn, account.id, role.value, actor)
    else:
        changed = staff.revoke_role(conn, account.id, role.value)
    if changed:
        _announce(conn, account, role, actor, verb)
    return changed


def _announce(
    conn: psycopg.Connection, account: account_store.Account, role: Role, actor: UUID | None, verb: str
) -> None:
    changed_at = staff.mark_roles_changed(conn, account.id)
    publish(
        conn,
        ACCOUNT_EVENTS,
        f"StaffRole{verb.capitalize()}",
        account,
        role=role.value,
        changed_at=changed_at.isoformat(),
        actor_account_id=str(actor) if actor else None,
    )


def roles_of_account(app: Identity, account_id: UUID) -> tuple[str, ...]:
    """The account's roles as they are now."""
    with app.pool.connection() as conn:
        return staff.roles_of(conn, account_id)
