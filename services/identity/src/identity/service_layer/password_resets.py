"""Use cases of a forgotten password: ask for a code, trade it for a reset token, set a new password."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from accounts_common.events.topics import ACCOUNT_EVENTS
from identity.adapters import account_store, code_counters, ratelimits, reset_store, session_store
from identity.bootstrap import Identity
from identity.domain.codes import CodeOutcome, Purpose
from identity.domain.passwords import Password
from identity.service_layer import sessions
from identity.service_layer.codes import (
    count_code_send,
    email_key,
    judge_attempt,
    locale_of,
    mail_code,
    new_code,
    publish,
)
from identity.service_layer.errors import CodeRejected, InvalidResetToken, WeakPassword
from identity.service_layer.limits import limit_email


@dataclass(frozen=True)
class ResetToken:
    reset_token: str
    expires_in: int


RESET = Purpose.PASSWORD_RESET


def request_reset(app: Identity, email: str, return_to: str | None = None, *, requester: str = "") -> None:
    """Email a reset code to a verified account (cooldown and cap as for verification codes).

    Any other email gets a decoy code, never mailed, so the code answers that follow are the same.
    """
    key = email_key(app, email)
    with app.pool.connection() as conn, conn.transaction():
        limit_email(app, conn, "reset", email, requester)
        account = account_store.lock_account_by_email(conn, email)
        verified = account if account is not None and account.verified else None
        sent_at = code_counters.reset_code_sent_at(conn, key)
        if not count_code_send(app, conn, email, RESET, sent_at, requester):
            return
        code, mac, expires_at = new_code(app, key.hex(), RESET, decoy=verified is None)
        code_counters.replace_reset_code(conn, key, verified.id if verified else None, mac, expires_at)
        if verified is not None:
            reset_store.set_reset_return_to(conn, verified.id, return_to)
            mail_code(app, conn, verified, RESET, code, expires_at, verified.locale)


def verify_reset_code(app: Identity, email: str, code: str) -> ResetToken:
    """Spend the reset code for a short-lived, single-use reset token."""
    key = email_key(app, email)
    with app.pool.connection() as conn:
        with conn.transaction():
            limit_email(app, conn, "code", email)
            # The account before its reset slot, the order in which a deletion locks them (the slot goes
            # with it): in the other order the two deadlock.
            account_store.lock_account_by_email(conn, email)
            slot = code_counters.count_reset_attempt(conn, key)
            outcome = judge_attempt(app, conn, email, RESET, slot.code if slot else None, key.hex(), code)
            if outcome is CodeOutcome.ACCEPTED and slot is not None and slot.account_id is not None:
                code_counters.use_reset_code(conn, key)
                token = secrets.token_urlsafe(32)
                expires_at = app.clock() + timedelta(seconds=app.settings.reset_token_ttl_s)
                reset_store.insert_reset_token(conn, _token_hash(token), slot.account_id, expires_at)
                return ResetToken(token, app.settings.reset_token_ttl_s)
        # Raised after the commit: the failed attempt must stay counted.
        raise CodeRejected(outcome if outcome is not CodeOutcome.ACCEPTED else CodeOutcome.INVALID)


def complete_reset(app: Identity, reset_token: str, new_password: Password) -> None:
    """Set the new password, revoke every session and announce PasswordReset; nobody is logged in."""
    violations = app.policy.violations(new_password.prepared)
    if violations:
        raise WeakPassword(violations)
    token_hash = _token_hash(reset_token)
    password_hash = _new_password_hash(app, token_hash, new_password.prepared)
    with app.pool.connection() as conn, conn.transaction():
        # The account before its token, the order in which a deletion locks them: the other deadlocks.
        owner = reset_store.live_token_account(conn, token_hash)
        account = account_store.find_account(conn, owner, lock=True) if owner is not None else None
        if account is None or reset_store.spend_reset_token(conn, token_hash) != account.id:
            raise InvalidResetToken()
        reset_at, return_to = reset_store.reset_password(conn, account.id, password_hash)
        session_store.revoke_all_sessions(conn, account.id)
        code_counters.use_reset_code(conn, email_key(app, account.email))
        # Whoever forgot the password may have locked themselves out trying: the new one works at once.
        # The wrong second factors stay counted: the mailbox alone must not buy fresh guesses at them.
        ratelimits.forget_failures(conn, sessions.login_throttle_bucket(app, account.email))
        publish(
            conn,
            ACCOUNT_EVENTS,
            "PasswordReset",
            account,
            reset_at=reset_at.isoformat(),
            **({"return_to": return_to} if return_to else {}),
            **locale_of(account),
        )


def _new_password_hash(app: Identity, token_hash: bytes, new_password: str) -> str:
    """The new password's hash, made before the reset's transaction (argon2 stays out of it); with the
    salt and parameters of the account's hash while decoys of its email are live (sessions.py)."""
    with app.pool.connection() as conn:
        account_id = reset_store.live_token_account(conn, token_hash)
        account = account_store.find_account(conn, account_id) if account_id is not None else None
        pinned = account is not None and sessions.decoys_pin_the_hash(conn, account)
    if pinned:
        assert account is not None and account.password_hash is not None
        return app.hasher.hash_like(account.password_hash, new_password)
    return app.hasher.hash(new_password)


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
