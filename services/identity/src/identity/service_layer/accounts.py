"""Use cases of signing up: register, verify with the emailed code, ask for a new code."""

import uuid
from datetime import timedelta

import psycopg

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES
from identity.adapters import repository
from identity.adapters.tokens import IssuedToken
from identity.bootstrap import Identity
from identity.domain.codes import CodeOutcome, Purpose, code_mac, generate_code, judge

SOURCE = "/identity"


class WeakPassword(Exception):
    """The password breaks the policy; `violations` lists every broken rule."""

    def __init__(self, violations: list[str]) -> None:
        super().__init__("; ".join(violations))
        self.violations = violations


class CodeRejected(Exception):
    """The submitted code does not verify; `outcome` says why."""

    def __init__(self, outcome: CodeOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


def register(app: Identity, email: str, password: str) -> None:
    """Create the account and email a code; for a known email, answer the same without leaking it."""
    violations = app.policy.violations(password)
    if violations:
        raise WeakPassword(violations)
    # Hashed either way, so a known email costs the same time as a new one.
    password_hash = app.hasher.hash(password)
    with app.pool.connection() as conn, conn.transaction():
        account = repository.insert_account(conn, uuid.uuid4(), email, password_hash)
        if account is not None:
            _publish(
                conn, ACCOUNT_EVENTS, "UserRegistered", account, registered_at=account.created_at.isoformat()
            )
            _issue_code(app, conn, account, Purpose.VERIFICATION)
            return
        existing = repository.lock_account_by_email(conn, email)
        if existing is not None and not existing.verified:
            _issue_code_if_allowed(app, conn, existing, Purpose.VERIFICATION)


def resend_verification(app: Identity, email: str) -> None:
    """Send a new code that voids the old one, within the cooldown and hourly cap; silent otherwise."""
    with app.pool.connection() as conn, conn.transaction():
        account = repository.lock_account_by_email(conn, email)
        if account is not None and not account.verified:
            _issue_code_if_allowed(app, conn, account, Purpose.VERIFICATION)


def verify_account(app: Identity, email: str, code: str) -> IssuedToken:
    """Spend the verification code, mark the account verified and log the user in."""
    with app.pool.connection() as conn:
        with conn.transaction():
            account = repository.lock_account_by_email(conn, email)
            outcome = _check_code(app, conn, account, Purpose.VERIFICATION, code)
            if outcome is CodeOutcome.ACCEPTED and account is not None:
                repository.use_code(conn, account.id, Purpose.VERIFICATION)
                verified_at = repository.mark_verified(conn, account.id)
                _publish(
                    conn, ACCOUNT_EVENTS, "AccountVerified", account, verified_at=verified_at.isoformat()
                )
                return app.tokens.issue(conn, account, verified=True)
        # Raised after the commit: the failed attempt must stay counted.
        raise CodeRejected(outcome)


def _check_code(
    app: Identity, conn: psycopg.Connection, account: repository.Account | None, purpose: Purpose, code: str
) -> CodeOutcome:
    if account is None:
        return CodeOutcome.INVALID
    stored = repository.count_code_attempt(conn, account.id, purpose)
    submitted = code_mac(app.settings.code_hmac_key, account.id, purpose, "".join(code.split()))
    return judge(stored, submitted, now=app.clock(), max_attempts=app.settings.code_max_attempts)


def _issue_code_if_allowed(
    app: Identity, conn: psycopg.Connection, account: repository.Account, purpose: Purpose
) -> bool:
    """Issue a code unless one went out within the cooldown or the hourly cap is reached."""
    settings = app.settings
    if repository.code_sends_since(conn, account.id, purpose, settings.resend_cooldown_s):
        return False
    if repository.code_sends_since(conn, account.id, purpose, 3600) >= settings.codes_per_hour:
        return False
    _issue_code(app, conn, account, purpose)
    return True


def _issue_code(
    app: Identity, conn: psycopg.Connection, account: repository.Account, purpose: Purpose
) -> None:
    code = generate_code()
    expires_at = app.clock() + timedelta(seconds=app.settings.code_lifetime_s)
    repository.replace_code(
        conn, account.id, purpose, code_mac(app.settings.code_hmac_key, account.id, purpose, code), expires_at
    )
    _publish(
        conn,
        CODES,
        "CodeIssued",
        account,
        purpose=str(purpose),
        code_encrypted=app.cipher.encrypt(code),
        expires_at=expires_at.isoformat(),
    )


def _publish(
    conn: psycopg.Connection, topic: str, event_type: str, account: repository.Account, **fields: str
) -> None:
    data = {"account_id": str(account.id), "email": account.email, **fields}
    outbox.enqueue(conn, topic, new_event(event_type, source=SOURCE, subject=str(account.id), data=data))
