"""Issuing and checking one-time codes, and writing identity's events to the outbox."""

from datetime import timedelta

import psycopg

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES
from identity.adapters import repository
from identity.bootstrap import Identity
from identity.domain.codes import CodeOutcome, Purpose, code_mac, generate_code, judge
from identity.service_layer.account_state import record_state
from identity.service_layer.limits import limit_email

SOURCE = "/identity"


def check_code(
    app: Identity, conn: psycopg.Connection, account: repository.Account | None, purpose: Purpose, code: str
) -> CodeOutcome:
    """Count one attempt at the account's live code (atomically) and judge it."""
    if account is None:
        return CodeOutcome.INVALID
    stored = repository.count_code_attempt(conn, account.id, purpose)
    submitted = code_mac(app.settings.code_hmac_key, account.id, purpose, "".join(code.split()))
    return judge(stored, submitted, now=app.clock(), max_attempts=app.settings.code_max_attempts)


def spend_code(
    app: Identity, conn: psycopg.Connection, email: str, purpose: Purpose, code: str
) -> tuple[repository.Account | None, CodeOutcome]:
    """Count an attempt at the email's live code and spend it when it is right.

    The account comes back only when the code was accepted; the caller commits either way, so a
    failed attempt stays counted.
    """
    limit_email(app, conn, "code", email)
    account = repository.lock_account_by_email(conn, email)
    outcome = check_code(app, conn, account, purpose, code)
    if outcome is not CodeOutcome.ACCEPTED or account is None:
        return None, outcome
    repository.use_code(conn, account.id, purpose)
    return account, outcome


def issue_code_if_allowed(
    app: Identity, conn: psycopg.Connection, account: repository.Account, purpose: Purpose
) -> bool:
    """Issue a code unless one went out within the cooldown or the hourly cap is reached."""
    settings = app.settings
    if repository.code_sends_since(conn, account.id, purpose, settings.resend_cooldown_s):
        return False
    if repository.code_sends_since(conn, account.id, purpose, 3600) >= settings.codes_per_hour:
        return False
    issue_code(app, conn, account, purpose)
    return True


def issue_code(
    app: Identity, conn: psycopg.Connection, account: repository.Account, purpose: Purpose
) -> None:
    """A new code for the account, voiding the old one, emailed through a CodeIssued event."""
    code = generate_code()
    expires_at = app.clock() + timedelta(seconds=app.settings.code_lifetime_s)
    repository.replace_code(
        conn, account.id, purpose, code_mac(app.settings.code_hmac_key, account.id, purpose, code), expires_at
    )
    publish(
        conn,
        CODES,
        "CodeIssued",
        account,
        purpose=str(purpose),
        code_encrypted=app.cipher.encrypt(code),
        expires_at=expires_at.isoformat(),
    )


def publish(
    conn: psycopg.Connection, topic: str, event_type: str, account: repository.Account, **fields: str
) -> None:
    """Put an event about the account (with its id and email) in the outbox, in the caller's transaction;
    an account event (it changes the account) with the account's new state."""
    data = {"account_id": str(account.id), "email": account.email, **fields}
    event = new_event(event_type, source=SOURCE, subject=str(account.id), data=data)
    outbox.enqueue(conn, topic, event)
    if topic == ACCOUNT_EVENTS:
        record_state(conn, account.id, event)
