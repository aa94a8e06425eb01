"""Issuing and checking one-time codes, and writing identity's events to the outbox.

Known and unknown emails walk through the same steps: an email that must not get a code gets a
decoy (stored like a code, matched by none, never mailed), and wrong guesses are counted per email
whether or not it has an account, so no answer tells the two apart.
"""

import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES
from identity.adapters import account_store, code_counters, session_store
from identity.bootstrap import Identity
from identity.domain import codes
from identity.domain.codes import CodeOutcome, Purpose, StoredCode
from identity.service_layer.account_state import record_erasure, record_state
from identity.service_layer.errors import CodeRejected

SOURCE = "/identity"
GUESS_WINDOW = timedelta(hours=24)


def email_key(app: Identity, email: str) -> bytes:
    """The key of the email's code counters (an HMAC: no address is stored with them)."""
    return codes.email_key(app.settings.code_hmac_key, email)


def judge_attempt(
    app: Identity,
    conn: psycopg.Connection,
    email: str,
    purpose: Purpose,
    stored: StoredCode | None,
    bound_to: str,
    code: str,
) -> CodeOutcome:
    """Judge one counted attempt against the stored code; a failure counts toward the email's daily cap.
    While that cap locks the email's code entry, every code is refused, the right one too, with the
    time left (CodeRejected): a new code would not help, as it does for one code's five tries."""
    key, now = email_key(app, email), app.clock()
    guesses = code_counters.guess_log(conn, key, purpose)
    if guesses.locked_until is not None and guesses.locked(now):
        left = math.ceil((guesses.locked_until - now).total_seconds())
        raise CodeRejected(CodeOutcome.LOCKED, retry_after_s=max(1, left))
    outcome = codes.judge(
        stored,
        codes.code_mac(app.settings.code_hmac_key, bound_to, purpose, code),
        now=now,
        max_attempts=app.settings.code_max_attempts,
    )
    if outcome is not CodeOutcome.ACCEPTED:
        cap = app.settings.code_max_failures_per_day
        code_counters.save_guess_log(conn, key, purpose, guesses.after_failure(now, GUESS_WINDOW, cap))
    return outcome


def requester_key(app: Identity, requester: str) -> bytes:
    """The key of one requester's code sends (an HMAC of the IP: none is stored in clear)."""
    return codes.email_key(app.settings.code_hmac_key, f"requester\0{requester}")


def count_code_send(
    app: Identity,
    conn: psycopg.Connection,
    email: str,
    purpose: Purpose,
    last_sent_at: datetime | None,
    requester: str,
) -> bool:
    """Count a code about to be sent to the email (or, for a decoy, as good as sent) and say True;
    False, counting nothing, within the code's resend cooldown, at the hourly cap of the email from
    this requester, or at the higher cap of the email from every requester."""
    settings = app.settings
    if last_sent_at is not None and app.clock() - last_sent_at < timedelta(
        seconds=settings.resend_cooldown_s
    ):
        return False
    return code_counters.count_code_send(
        conn,
        email_key(app, email),
        purpose,
        requester_key(app, requester),
        window_s=3600,
        cap=settings.codes_per_hour,
        cap_all=settings.codes_per_hour_all,
    )


def new_code(app: Identity, bound_to: str, purpose: Purpose, *, decoy: bool) -> tuple[str, bytes, datetime]:
    """A fresh code, the MAC to store for it (a decoy's matches nothing) and its expiry."""
    code = codes.generate_code()
    mac = codes.decoy_mac() if decoy else codes.code_mac(app.settings.code_hmac_key, bound_to, purpose, code)
    return code, mac, app.clock() + timedelta(seconds=app.settings.code_lifetime_s)


def mail_code(
    app: Identity,
    conn: psycopg.Connection,
    account: account_store.Account,
    purpose: Purpose,
    code: str,
    expires_at: datetime,
    locale: str | None,
) -> None:
    """Email the code through a CodeIssued event (encrypted: never plaintext on Kafka)."""
    publish(
        conn,
        CODES,
        "CodeIssued",
        account,
        purpose=str(purpose),
        code_encrypted=app.cipher.encrypt(code),
        expires_at=expires_at.isoformat(),
        **({"locale": locale} if locale else {}),
    )


def mail_duplicate_signup_notice(
    app: Identity, conn: psycopg.Connection, account: account_store.Account
) -> None:
    """Tell the owner (in their language) that someone tried to create an account with their address."""
    publish(
        conn,
        CODES,
        "DuplicateSignupAttempted",
        account,
        attempted_at=app.clock().isoformat(),
        **locale_of(account),
    )


def locale_of(account: account_store.Account) -> dict[str, str]:
    """The optional `locale` field of an event about the account, so mails are in its language."""
    return {"locale": account.locale} if account.locale else {}


def publish(
    conn: psycopg.Connection, topic: str, event_type: str, account: account_store.Account, **fields: Any
) -> None:
    """Put an event about the account (with its id and email) in the outbox, in the caller's transaction;
    an account event (it changes the account) with the account's new state."""
    data = {"account_id": str(account.id), "email": account.email, **fields}
    event = new_event(event_type, source=SOURCE, subject=str(account.id), data=data)
    outbox.enqueue(conn, topic, event)
    if topic == ACCOUNT_EVENTS:
        record_state(conn, account.id, event)


def publish_session_revoked(conn: psycopg.Connection, jti: UUID, session: session_store.SessionState) -> None:
    """Announce a logout: every service refuses that token from now on (no account state changes)."""
    assert session.revoked_at is not None
    data = {
        "account_id": str(session.account_id),
        "session_id": str(jti),
        "revoked_at": session.revoked_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
    }
    event = new_event("SessionRevoked", source=SOURCE, subject=str(session.account_id), data=data)
    outbox.enqueue(conn, ACCOUNT_EVENTS, event)


def publish_locale_changed(app: Identity, conn: psycopg.Connection, account: account_store.Account) -> None:
    """Announce the account's new language: every service that keeps it writes to the person in it
    from now on. Not part of the account's published state (identity.accounts.v1)."""
    data = {
        "account_id": str(account.id),
        "email": account.email,
        "locale": account.locale,
        "changed_at": app.clock().isoformat(),
    }
    event = new_event("AccountLocaleChanged", source=SOURCE, subject=str(account.id), data=data)
    outbox.enqueue(conn, ACCOUNT_EVENTS, event)


def publish_deleted(app: Identity, conn: psycopg.Connection, account_id: UUID) -> None:
    """Announce that the account and its personal data are gone (every service erases it), with the
    tombstone of its state."""
    deleted = new_event(
        "AccountDeleted",
        source=SOURCE,
        subject=str(account_id),
        data={"account_id": str(account_id), "deleted_at": app.clock().isoformat()},
    )
    outbox.enqueue(conn, ACCOUNT_EVENTS, deleted)
    record_erasure(conn, account_id, deleted)
