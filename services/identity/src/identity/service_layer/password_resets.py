"""Use cases of a forgotten password: ask for a code, trade it for a reset token, set a new password."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from accounts_common.events.topics import ACCOUNT_EVENTS
from identity.adapters import ratelimits, repository
from identity.bootstrap import Identity
from identity.domain.codes import Purpose
from identity.service_layer import sessions
from identity.service_layer.codes import issue_code_if_allowed, publish, spend_code
from identity.service_layer.errors import CodeRejected, InvalidResetToken, WeakPassword
from identity.service_layer.limits import limit_email


@dataclass(frozen=True)
class ResetToken:
    reset_token: str
    expires_in: int


def request_reset(app: Identity, email: str) -> None:
    """Email a reset code (cooldown and cap as for verification codes); silent for unknown emails."""
    with app.pool.connection() as conn, conn.transaction():
        limit_email(app, conn, "reset", email)
        account = repository.lock_account_by_email(conn, email)
        if account is not None:
            issue_code_if_allowed(app, conn, account, Purpose.PASSWORD_RESET)


def verify_reset_code(app: Identity, email: str, code: str) -> ResetToken:
    """Spend the reset code for a short-lived, single-use reset token."""
    with app.pool.connection() as conn:
        with conn.transaction():
            account, outcome = spend_code(app, conn, email, Purpose.PASSWORD_RESET, code)
            if account is not None:
                token = secrets.token_urlsafe(32)
                expires_at = app.clock() + timedelta(seconds=app.settings.reset_token_ttl_s)
                repository.insert_reset_token(conn, _token_hash(token), account.id, expires_at)
                return ResetToken(token, app.settings.reset_token_ttl_s)
        # Raised after the commit: the failed attempt must stay counted.
        raise CodeRejected(outcome)


def complete_reset(app: Identity, reset_token: str, new_password: str) -> None:
    """Set the new password, revoke every session and announce PasswordReset; nobody is logged in."""
    violations = app.policy.violations(new_password)
    if violations:
        raise WeakPassword(violations)
    password_hash = app.hasher.hash(new_password)
    with app.pool.connection() as conn, conn.transaction():
        account_id = repository.spend_reset_token(conn, _token_hash(reset_token))
        account = repository.find_account(conn, account_id) if account_id is not None else None
        if account is None:
            raise InvalidResetToken()
        reset_at = repository.reset_password(conn, account.id, password_hash)
        repository.revoke_all_sessions(conn, account.id)
        repository.use_code(conn, account.id, Purpose.PASSWORD_RESET)
        # Whoever forgot the password may have locked themselves out trying: the new one works at once.
        ratelimits.forget_failures(conn, sessions.login_throttle_bucket(account.email))
        publish(conn, ACCOUNT_EVENTS, "PasswordReset", account, reset_at=reset_at.isoformat())


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
