"""Use cases of sessions: log in with email and password, check an access token, log out."""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

import psycopg
from argon2.exceptions import InvalidHashError, VerificationError

from identity.adapters import ratelimits, repository
from identity.adapters.hashing import same_hash
from identity.adapters.ratelimits import bucket
from identity.adapters.tokens import InvalidToken, IssuedToken
from identity.bootstrap import Identity
from identity.service_layer.codes import publish_session_revoked
from identity.service_layer.errors import InvalidCredentials, NotVerified, RateLimited, Unauthenticated


@dataclass(frozen=True)
class Principal:
    """The account an access token speaks for, and the session it belongs to."""

    account: repository.Account
    jti: UUID


def login(app: Identity, email: str, password: str) -> IssuedToken:
    """An access token for the right password of a verified account."""
    account = _check_password(app, email, password)
    with app.pool.connection() as conn, conn.transaction():
        if account.password_hash and app.hasher.check_needs_rehash(account.password_hash):
            repository.set_password_hash(conn, account.id, app.hasher.hash(password))
        return app.tokens.issue(conn, account, verified=True)


def confirm_password(app: Identity, account: repository.Account, password: str) -> repository.Account:
    """The account again when the password is its own (throttled like logins); InvalidCredentials if not."""
    try:
        return _check_password(app, account.email, password)
    except NotVerified:
        raise InvalidCredentials() from None


def authenticate(app: Identity, token: str) -> Principal:
    """Who the access token speaks for; Unauthenticated unless its session still stands."""
    with app.pool.connection() as conn:
        try:
            claims = app.tokens.decode(conn, token)
        except InvalidToken:
            raise Unauthenticated() from None
        session = repository.find_session(conn, claims.jti)
        account = repository.find_account(conn, claims.account_id)
    if session is None or account is None or not _stands(session, account, claims.issued_at, app.clock()):
        raise Unauthenticated()
    return Principal(account, claims.jti)


def logout(app: Identity, token: str) -> None:
    """Revoke the token's session here, and through SessionRevoked in every service that checks it."""
    principal = authenticate(app, token)
    with app.pool.connection() as conn, conn.transaction():
        ended = repository.revoke_session(conn, principal.jti)
        if ended is not None and ended.revoked_at is not None:
            publish_session_revoked(conn, principal.jti, ended)


def login_throttle_bucket(email: str) -> bytes:
    """The key of the email's failed-login counter."""
    return bucket("login:failures", email)


def _stands(
    session: repository.SessionState, account: repository.Account, issued_at: datetime, now: datetime
) -> bool:
    if session.account_id != account.id or session.revoked_at is not None or session.expires_at <= now:
        return False
    return account.password_reset_at is None or issued_at >= account.password_reset_at


class Match(Enum):
    """What a login's password turned out to be."""

    ACCOUNT = "the account's own password"
    REGISTRATION = "the password of a registration not verified yet (or of a decoy)"
    NONE = "no password of this email"


def _check_password(app: Identity, email: str, password: str) -> repository.Account:
    """The account when the password is its own; NotVerified when it is a pending registration's (or a
    decoy's); failures per email (known or not) delay further tries."""
    throttle = login_throttle_bucket(email)
    with app.pool.connection() as conn:
        blocked_until = ratelimits.blocked_until(conn, throttle)
        if blocked_until is not None:
            raise RateLimited(max(1, int((blocked_until - app.clock()).total_seconds()) + 1))
        account = repository.find_account_by_email(conn, email)
        match = _password_matches(app, conn, account, password)
        if match is Match.ACCOUNT:
            assert account is not None
            ratelimits.forget_failures(conn, throttle)
            return account
        if match is Match.REGISTRATION:
            # Neither a failure nor a success: a registration's password proves nothing yet, and
            # must not clear the failures counted against the account's own password.
            raise NotVerified()
        failures = ratelimits.count_failure(conn, throttle, app.settings.login_throttle.forget_after_s)
        delay = app.settings.login_throttle.delay_after(failures)
        if delay:
            ratelimits.block(conn, throttle, delay)
    raise InvalidCredentials()


def _password_matches(
    app: Identity, conn: psycopg.Connection, account: repository.Account | None, password: str
) -> Match:
    """One argon2 run for any email: a verified account's password and its newest decoy's share a salt."""
    if account is not None and account.verified and account.password_hash:
        candidate = app.hasher.hash_like(account.password_hash, password)
        if same_hash(candidate, account.password_hash):
            return Match.ACCOUNT
        decoy = repository.newest_decoy(conn, account.email)
        return Match.REGISTRATION if decoy and same_hash(candidate, decoy.password_hash) else Match.NONE
    # An unknown email still costs one argon2 verification, so timing does not tell it apart.
    stored = _stored_hash(conn, account) or app.dummy_hash
    try:
        if app.hasher.verify(stored, password) and account is not None:
            return Match.REGISTRATION
    except (VerificationError, InvalidHashError):
        pass
    return Match.NONE


def _stored_hash(conn: psycopg.Connection, account: repository.Account | None) -> str | None:
    """For a pending account, its newest registration's password hash (the right password then
    answers "not verified yet", and still logs nobody in)."""
    if account is None:
        return None
    registration = repository.newest_registration(conn, account.id)
    return registration.password_hash if registration is not None else None
