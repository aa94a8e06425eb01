"""Use cases of support staff: look a person's account up by email, send a pending account a new code,
erase an account on the person's request. Each is an OperatorActionRecorded in the same transaction,
naming the account by its id: the trail outlives an erasure, so it holds no email."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from accounts_common.audit import record_action
from identity.adapters import account_store, registration_store, staff
from identity.bootstrap import Identity
from identity.service_layer import accounts, sessions
from identity.service_layer.codes import SOURCE, publish_deleted
from identity.service_layer.errors import RateLimited, StaffAccount, UnknownAccount

NO_ACCOUNT = "(no account)"


@dataclass(frozen=True)
class AccountView:
    """What support sees of an account (never its password, codes or secrets)."""

    id: UUID
    email: str
    verified: bool
    created_at: datetime
    locale: str
    roles: tuple[str, ...]
    mfa_enrolled: bool


def look_up(app: Identity, email: str, actor: UUID) -> AccountView | None:
    """The account of `email`, if any; the look-up itself is recorded, found or not."""
    with app.pool.connection() as conn, conn.transaction():
        account = account_store.find_account_by_email(conn, email)
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=actor,
            action="account.looked-up",
            target=_target(account),
            outcome="ok" if account else "unchanged",
        )
        if account is None:
            return None
        return AccountView(
            id=account.id,
            email=account.email,
            verified=account.verified,
            created_at=account.created_at,
            locale=account.locale or "en",
            roles=staff.roles_of(conn, account.id),
            mfa_enrolled=staff.has_confirmed_totp(conn, account.id),
        )


def resend_code(app: Identity, email: str, actor: UUID) -> bool:
    """Send the pending account of `email` a new code for its newest registration (within the usual
    cooldown and hourly cap); False when there is no pending registration to send one for. RateLimited
    (recorded as refused) past the email's limit of "Send new code" requests; within the cooldown no
    code goes, and the trail says "unchanged"."""
    with app.pool.connection() as conn:
        account = account_store.find_account_by_email(conn, email)
        registration = registration_store.newest_registration(conn, account.id) if account else None
    pending = account is not None and not account.verified and registration is not None
    outcome = "refused"
    if pending:
        assert registration is not None
        try:
            sent = accounts.resend_verification(app, email, registration.id)
        except RateLimited:
            _record_resend(app, actor, account, "refused")
            raise
        outcome = "ok" if sent else "unchanged"  # unchanged: a code went out within the cooldown
    _record_resend(app, actor, account, outcome)
    return pending


def _record_resend(app: Identity, actor: UUID, account: account_store.Account | None, outcome: str) -> None:
    with app.pool.connection() as conn, conn.transaction():
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=actor,
            action="account.code-resent",
            target=_target(account),
            outcome=outcome,
        )


def erase(app: Identity, email: str, reason: str, actor: UUID) -> None:
    """Erase the account of `email` and its personal data, as its owner could; UnknownAccount when
    there is none, StaffAccount (the attempt recorded as refused) when it holds a role. Every service
    erases it too (AccountDeleted)."""
    with app.pool.connection() as conn, conn.transaction():
        account = account_store.lock_account_by_email(conn, email)
        holds_roles = account is not None and bool(staff.roles_of(conn, account.id))
        if account is not None and not holds_roles:
            account_store.delete_account(conn, account.id)
            sessions.forget_login_failures(app, conn, account.email)
            publish_deleted(app, conn, account.id)
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=actor,
            action="account.erased",
            target=f"{_target(account)} ({reason})"[:512],
            outcome="unchanged" if account is None else "refused" if holds_roles else "ok",
        )
    if account is None:
        raise UnknownAccount(email)
    if holds_roles:
        raise StaffAccount(email)


def _target(account: account_store.Account | None) -> str:
    return str(account.id) if account else NO_ACCOUNT
