"""Use cases of an account: register, verify with the emailed code, ask for a new code, delete it."""

import uuid

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.events.topics import ACCOUNT_EVENTS
from identity.adapters import ratelimits, repository
from identity.adapters.tokens import IssuedToken
from identity.bootstrap import Identity
from identity.domain.codes import Purpose
from identity.service_layer import sessions
from identity.service_layer.account_state import record_erasure
from identity.service_layer.codes import SOURCE, issue_code, issue_code_if_allowed, publish, spend_code
from identity.service_layer.errors import CodeRejected, InvalidCredentials, WeakPassword, WrongPassword
from identity.service_layer.limits import limit_email


def register(app: Identity, email: str, password: str) -> None:
    """Create the account and email a code; for a known email, answer the same without leaking it."""
    violations = app.policy.violations(password)
    if violations:
        raise WeakPassword(violations)
    # Hashed either way, so a known email costs the same time as a new one.
    password_hash = app.hasher.hash(password)
    with app.pool.connection() as conn, conn.transaction():
        limit_email(app, conn, "register", email)
        account = repository.insert_account(conn, uuid.uuid4(), email, password_hash)
        if account is not None:
            publish(
                conn, ACCOUNT_EVENTS, "UserRegistered", account, registered_at=account.created_at.isoformat()
            )
            issue_code(app, conn, account, Purpose.VERIFICATION)
            return
        existing = repository.lock_account_by_email(conn, email)
        if existing is not None and not existing.verified:
            issue_code_if_allowed(app, conn, existing, Purpose.VERIFICATION)


def resend_verification(app: Identity, email: str) -> None:
    """Send a new code that voids the old one, within the cooldown and hourly cap; silent otherwise."""
    with app.pool.connection() as conn, conn.transaction():
        limit_email(app, conn, "resend", email)
        account = repository.lock_account_by_email(conn, email)
        if account is not None and not account.verified:
            issue_code_if_allowed(app, conn, account, Purpose.VERIFICATION)


def verify_account(app: Identity, email: str, code: str) -> IssuedToken:
    """Spend the verification code, mark the account verified and log the user in."""
    with app.pool.connection() as conn:
        with conn.transaction():
            account, outcome = spend_code(app, conn, email, Purpose.VERIFICATION, code)
            if account is not None:
                verified_at = repository.mark_verified(conn, account.id)
                publish(conn, ACCOUNT_EVENTS, "AccountVerified", account, verified_at=verified_at.isoformat())
                return app.tokens.issue(conn, account, verified=True)
        # Raised after the commit: the failed attempt must stay counted.
        raise CodeRejected(outcome)


def delete_account(app: Identity, token: str, password: str) -> None:
    """Erase the token holder's account once the password confirms it; every token of it dies."""
    try:
        account = sessions.confirm_password(app, sessions.authenticate(app, token).account, password)
    except InvalidCredentials:
        raise WrongPassword() from None
    with app.pool.connection() as conn, conn.transaction():
        if repository.find_account(conn, account.id, lock=True) is None:
            return  # deleted meanwhile by a concurrent request: nothing left to erase
        repository.delete_account(conn, account.id)
        ratelimits.forget_failures(conn, sessions.login_throttle_bucket(account.email))
        deleted = new_event(
            "AccountDeleted",
            source=SOURCE,
            subject=str(account.id),
            data={"account_id": str(account.id), "deleted_at": app.clock().isoformat()},
        )
        outbox.enqueue(conn, ACCOUNT_EVENTS, deleted)
        record_erasure(conn, account.id, deleted)
