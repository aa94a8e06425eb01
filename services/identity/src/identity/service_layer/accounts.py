"""Use cases of an account: register, verify with the emailed code, ask for a new code, delete it.

Each registration is its own pending credential: the password it carries becomes the account's only
when the code mailed for that registration is entered with its id, so whoever registers an email
first cannot take over the account its owner later verifies.
"""

import uuid
from datetime import timedelta

import psycopg

from accounts_common.events.topics import ACCOUNT_EVENTS
from identity.adapters import account_store, registration_store, staff
from identity.adapters.tokens import IssuedToken
from identity.bootstrap import Identity
from identity.domain.codes import CodeOutcome, Purpose
from identity.domain.passwords import Password
from identity.service_layer import sessions
from identity.service_layer.codes import (
    count_code_send,
    judge_attempt,
    locale_of,
    mail_code,
    mail_duplicate_signup_notice,
    new_code,
    publish,
    publish_deleted,
    publish_locale_changed,
)
from identity.service_layer.errors import (
    CodeRejected,
    InvalidCredentials,
    LastAdmin,
    Unauthenticated,
    WeakPassword,
    WrongPassword,
)
from identity.service_layer.limits import limit_email
from identity.service_layer.staff import record_roles_ended

VERIFICATION = Purpose.VERIFICATION


def register(
    app: Identity, email: str, password: Password, locale: str | None = None, *, requester: str = ""
) -> uuid.UUID:
    """A new registration for the email, its code mailed; the same answer whatever the email's state.

    An already verified email gets a decoy registration: it answers like a real one (a login with its
    password too: "not verified yet"), no code verifies it, and the owner is mailed a notice instead
    of a code. Its password is hashed with the salt of the account's, so one argon2 run at login
    tells the owner's password, the decoy's and a wrong one apart, as for any other email.
    """
    violations = app.policy.violations(password.prepared)
    if violations:
        raise WeakPassword(violations)
    password_hash = _hash_for(app, email, password.prepared)
    registration_id = uuid.uuid4()
    with app.pool.connection() as conn, conn.transaction():
        limit_email(app, conn, "register", email, requester)
        account = _account_of(conn, email, locale)
        registration = registration_store.Registration(
            id=registration_id,
            email=email,
            account_id=None if account.verified else account.id,
            password_hash=password_hash,
            locale=locale,
            code_sent_at=app.clock(),
        )
        _store_registration(app, conn, registration, account, requester)
    return registration_id


def _account_of(conn: psycopg.Connection, email: str, locale: str | None) -> account_store.Account:
    """The email's account, locked until the transaction ends: a new pending one (announced), or the
    one there. That one may be erased between the two looks (an abandoned pending account purged by
    the housekeeping, a deletion): then a new one."""
    while True:
        account = account_store.insert_account(conn, uuid.uuid4(), email, locale)
        if account is not None:
            publish(
                conn,
                ACCOUNT_EVENTS,
                "UserRegistered",
                account,
                registered_at=account.created_at.isoformat(),
                **({"locale": locale} if locale else {}),
            )
            return account
        account = account_store.lock_account_by_email(conn, email)
        if account is not None:
            return account


def _hash_for(app: Identity, email: str, password: str) -> str:
    """The registration's password hash; for a verified email, made with its account's salt."""
    # Read for every email, and one argon2 run either way: a known email costs what a new one does.
    with app.pool.connection() as conn:
        account = account_store.find_account_by_email(conn, email)
    if account is not None and account.verified and account.password_hash:
        return app.hasher.hash_like(account.password_hash, password)
    return app.hasher.hash(password)


def _store_registration(
    app: Identity,
    conn: psycopg.Connection,
    registration: registration_store.Registration,
    account: account_store.Account,
    requester: str,
) -> None:
    decoy = account.verified
    code, mac, code_expires_at = new_code(app, str(registration.id), VERIFICATION, decoy=decoy)
    registration_store.insert_registration(
        conn,
        registration,
        code_mac=mac,
        code_expires_at=code_expires_at,
        expires_at=app.clock() + timedelta(seconds=app.settings.registration_ttl_s),
    )
    if count_code_send(app, conn, registration.email, VERIFICATION, None, requester):
        if decoy:
            mail_duplicate_signup_notice(app, conn, account)
        else:
            mail_code(app, conn, account, VERIFICATION, code, code_expires_at, registration.locale)


def resend_verification(
    app: Identity, email: str, registration_id: uuid.UUID, *, requester: str = ""
) -> bool:
    """A new code for the registration, voiding its old one, within the cooldown and the email's
    hourly cap; silent otherwise (and for unknown registrations). Whether a new code was made: the
    public endpoint keeps it to itself, support's audit trail records it."""
    with app.pool.connection() as conn, conn.transaction():
        limit_email(app, conn, "resend", email, requester)
        registration = registration_store.lock_registration(conn, registration_id, email)
        sent_at = registration.code_sent_at if registration else None
        if registration is None or not count_code_send(app, conn, email, VERIFICATION, sent_at, requester):
            return False
        pending = None
        if registration.account_id is not None:
            pending = account_store.find_account(conn, registration.account_id)
        code, mac, code_expires_at = new_code(app, str(registration.id), VERIFICATION, decoy=pending is None)
        registration_store.replace_registration_code(conn, registration.id, mac, code_expires_at)
        if pending is not None:
            mail_code(app, conn, pending, VERIFICATION, code, code_expires_at, registration.locale)
        elif (owner := account_store.find_account_by_email(conn, email)) is not None:
            mail_duplicate_signup_notice(app, conn, owner)  # "send new code" on a decoy: the notice again
    return True


def verify_account(app: Identity, email: str, registration_id: uuid.UUID, code: str) -> IssuedToken:
    """Enter the registration's code: its password becomes the account's, the user is logged in."""
    with app.pool.connection() as conn:
        with conn.transaction():
            limit_email(app, conn, "code", email)
            # The account before its registration, the order in which an erasure locks them (its
            # registrations go with it): in the other order the two deadlock.
            account_store.lock_account_by_email(conn, email)
            registration = registration_store.lock_registration(conn, registration_id, email)
            stored = (
                registration_store.count_registration_attempt(conn, registration_id) if registration else None
            )
            outcome = judge_attempt(app, conn, email, VERIFICATION, stored, str(registration_id), code)
            if outcome is CodeOutcome.ACCEPTED and registration is not None:
                account = registration_store.activate_registration(conn, registration)
                if account is not None and account.verified_at is not None:
                    publish(
                        conn,
                        ACCOUNT_EVENTS,
                        "AccountVerified",
                        account,
                        verified_at=account.verified_at.isoformat(),
                        **locale_of(account),
                    )
                    return app.tokens.issue(conn, account, verified=True)
                outcome = CodeOutcome.INVALID  # verified meanwhile through another registration
        # Raised after the commit: the failed attempt must stay counted.
        raise CodeRejected(outcome)


def delete_account(app: Identity, token: str, password: Password) -> None:
    """Erase the token holder's account once the password confirms it; every token of it dies. The only
    admin's is refused (LastAdmin): its role would go with it, and nobody could open the admin pages."""
    account = confirm_owner(app, sessions.authenticate(app, token).account, password)
    with app.pool.connection() as conn, conn.transaction():
        if account_store.find_account(conn, account.id, lock=True) is None:
            return  # deleted meanwhile by a concurrent request: nothing left to erase
        last_admin = staff.sole_admin(conn, account.id)
        record_roles_ended(conn, account.id, staff.roles_of(conn, account.id), refused=last_admin)
        if not last_admin:
            account_store.delete_account(conn, account.id)
            sessions.forget_login_failures(app, conn, account.email)
            publish_deleted(app, conn, account.id)
    if last_admin:
        raise LastAdmin()  # once the refusal is recorded


def change_locale(app: Identity, principal: sessions.Principal, locale: str) -> account_store.Account:
    """Write the principal's mails in `locale` from now on (AccountLocaleChanged tells the services that
    keep the account's language); choosing the language it has already announces nothing. An account
    deleted since its token was checked is Unauthenticated (a deleted account's token), not changed."""
    with app.pool.connection() as conn, conn.transaction():
        account = account_store.find_account(conn, principal.account.id, lock=True)
        if account is None:
            raise Unauthenticated()
        changed = account_store.change_locale(conn, account.id, locale)
        if changed is not None:
            publish_locale_changed(app, conn, changed)
    return changed or account


def confirm_owner(app: Identity, account: account_store.Account, password: Password) -> account_store.Account:
    """The account again when the password is its own: what a token alone may not do (delete the
    account, enrol a second factor) asks for it. WrongPassword if not (throttled like logins)."""
    try:
        return sessions.confirm_password(app, account, password)
    except InvalidCredentials:
        raise WrongPassword() from None
