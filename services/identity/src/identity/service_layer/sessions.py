"""Use cases of sessions: log in with email and password, check an access token, log out."""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

import psycopg
from argon2.exceptions import InvalidHashError, VerificationError

from accounts_common.roles import SECOND_FACTOR
from identity.adapters import account_store, challenges, ratelimits, registration_store, session_store, staff
from identity.adapters.hashing import same_hash
from identity.adapters.tokens import InvalidToken, IssuedToken
from identity.bootstrap import Identity
from identity.domain.passwords import Password
from identity.service_layer import totp
from identity.service_layer.codes import publish_session_revoked
from identity.service_layer.errors import (
    ChallengeExpired,
    InvalidCredentials,
    InvalidSecondFactor,
    MfaRequired,
    NotVerified,
    RateLimited,
    Unauthenticated,
)


@dataclass(frozen=True)
class Principal:
    """The account an access token speaks for, and the session it belongs to."""

    account: account_store.Account
    jti: UUID
    amr: tuple[str, ...] = ("pwd",)

    @property
    def passed_second_factor(self) -> bool:
        return SECOND_FACTOR in self.amr


@dataclass(frozen=True)
class Proven:
    """The account whose password a login just checked; `as_typed` when its hash is of the password as
    typed, not in NFC (made before identity prepared passwords): the login replaces that hash."""

    account: account_store.Account
    password: Password
    as_typed: bool = False


def login(app: Identity, email: str, password: Password, second_factor: str | None = None) -> IssuedToken:
    """An access token for the right password of a verified account, and for an account with a second
    factor, its TOTP or recovery code too (MfaRequired with a challenge without one). Roles come with
    the token."""
    proven = _check_password(app, email, password)
    if not second_factor:
        _challenge_if_second_factor(app, proven)
    return _log_in(app, proven.account, second_factor, proven)


def login_with_challenge(app: Identity, challenge: str, second_factor: str) -> IssuedToken:
    """As `login` with the password, for the account whose password earned the challenge (five minutes,
    and only while that password stands); ChallengeExpired if not."""
    with app.pool.connection() as conn:
        try:
            challenged = challenges.check(app.tokens, conn, challenge, app.clock())
        except challenges.InvalidChallenge:
            raise ChallengeExpired() from None
        account = account_store.find_account(conn, challenged.account_id)
    if (
        account is None
        or not account.verified
        or not account.password_hash
        or challenges.password_fingerprint(account.password_changed_at) != challenged.password_fingerprint
    ):
        raise ChallengeExpired()
    return _log_in(app, account, second_factor, None)


def _challenge_if_second_factor(app: Identity, proven: Proven) -> None:
    """MfaRequired with a challenge when the account has a second factor (its hash renewed first if
    due: a login that ends with the challenge never sees the password again)."""
    with app.pool.connection() as conn:
        if not staff.has_confirmed_totp(conn, proven.account.id):
            return
        with conn.transaction():
            _renew_hash_if_due(app, conn, proven)
        raise MfaRequired(_challenge(app, conn, proven.account))


def _challenge(app: Identity, conn: psycopg.Connection, account: account_store.Account) -> str:
    """A challenge for the account, bound to the password it was read with."""
    fingerprint = challenges.password_fingerprint(account.password_changed_at)
    return challenges.issue(app.tokens, conn, account.id, fingerprint, app.clock())


def _log_in(
    app: Identity, account: account_store.Account, second_factor: str | None, proven: Proven | None
) -> IssuedToken:
    """The token once the password (`proven`; else a challenge) is right, if the second factor is too."""
    throttle = second_factor_throttle_bucket(app, account.email)
    with app.pool.connection() as conn, conn.transaction():
        _refuse_unless_password_stands(conn, account, checked_now=proven is not None)
        amr = _authentication_methods(app, conn, account, second_factor, throttle)
        if amr is None:
            # Counted before the turn ends, so the next guess sees the delay.
            _count_failure(app, conn, throttle)
        else:
            if proven is not None:
                _renew_hash_if_due(app, conn, proven)
            # Forgotten only now: a right password must not wipe the count of wrong second factors.
            forget_login_failures(app, conn, account.email)
            roles = staff.roles_of(conn, account.id)
            return app.tokens.issue(conn, account, verified=True, amr=amr, roles=roles)
    raise InvalidSecondFactor()


def _refuse_unless_password_stands(
    conn: psycopg.Connection, account: account_store.Account, *, checked_now: bool
) -> None:
    """Lock the account until the token is issued, if the password that was checked is still its own:
    a deletion or a reset committed since then refuses the login (InvalidCredentials, or for a
    challenge ChallengeExpired) instead of failing on the erased account or issuing a dead token."""
    current = account_store.find_account(conn, account.id, lock=True)
    if current is None or current.password_changed_at != account.password_changed_at:
        raise InvalidCredentials() if checked_now else ChallengeExpired()


def _renew_hash_if_due(app: Identity, conn: psycopg.Connection, proven: Proven) -> None:
    """Hash the right password again when the account's hash is of it as typed (then in NFC, with the
    same salt and parameters while decoys pin them), or is due for the current argon2 parameters (and
    may change now); a reset committed since the account was read wins."""
    account, password = proven.account, proven.password.prepared
    if not account.password_hash:
        return
    if proven.as_typed:
        # With the salt and parameters that live decoys pin, if any: one run still checks both hashes.
        if decoys_pin_the_hash(conn, account):
            renewed = app.hasher.hash_like(account.password_hash, password)
        else:
            renewed = app.hasher.hash(password)
    elif app.hasher.check_needs_rehash(account.password_hash) and not decoys_pin_the_hash(conn, account):
        renewed = app.hasher.hash(password)
    else:
        return
    account_store.renew_password_hash(conn, account.id, account.password_hash, renewed)


def decoys_pin_the_hash(conn: psycopg.Connection, account: account_store.Account) -> bool:
    """Whether live decoy registrations of the account's email hold the salt and parameters of its
    password hash: a decoy's password answers "not verified yet", as a new address's pending one does,
    only while one argon2 run with them matches it. A new hash keeps both until the decoys expire."""
    return (
        account.password_hash is not None and registration_store.newest_decoy(conn, account.email) is not None
    )


def _authentication_methods(
    app: Identity,
    conn: psycopg.Connection,
    account: account_store.Account,
    second_factor: str | None,
    throttle: bytes,
) -> tuple[str, ...] | None:
    """How the person proved who they are (RFC 8176 `amr`); None when the second factor is wrong.
    `throttle` is the email's count of wrong second factors."""
    if not staff.has_confirmed_totp(conn, account.id):
        return ("pwd",)
    if not second_factor:
        # Enrolled since `login` looked: the challenge then goes without renewing the hash.
        raise MfaRequired(_challenge(app, conn, account))
    # Judged in turn like the password, and counted in the same turn (by the caller) when wrong.
    ratelimits.take_turn(conn, throttle)
    _refuse_while_blocked(app, conn, throttle)
    if totp.second_factor_passes(app, conn, account.id, second_factor):
        return ("pwd", SECOND_FACTOR)
    return None


def confirm_password(
    app: Identity, account: account_store.Account, password: Password
) -> account_store.Account:
    """The account again when the password is its own (throttled like logins); InvalidCredentials if not."""
    try:
        confirmed = _check_password(app, account.email, password).account
    except NotVerified:
        raise InvalidCredentials() from None
    with app.pool.connection() as conn:
        ratelimits.forget_failures(conn, login_throttle_bucket(app, account.email))
    return confirmed


def authenticate(app: Identity, token: str) -> Principal:
    """Who the access token speaks for; Unauthenticated unless its session still stands."""
    with app.pool.connection() as conn:
        try:
            claims = app.tokens.decode(conn, token)
        except InvalidToken:
            raise Unauthenticated() from None
        session = session_store.find_session(conn, claims.jti)
        account = account_store.find_account(conn, claims.account_id)
    if session is None or account is None or not _stands(session, account, claims.issued_at, app.clock()):
        raise Unauthenticated()
    return Principal(account, claims.jti, claims.amr)


def logout(app: Identity, token: str) -> None:
    """Revoke the token's session here, and through SessionRevoked in every service that checks it."""
    principal = authenticate(app, token)
    with app.pool.connection() as conn, conn.transaction():
        ended = session_store.revoke_session(conn, principal.jti)
        if ended is not None and ended.revoked_at is not None:
            publish_session_revoked(conn, principal.jti, ended)


def login_throttle_bucket(app: Identity, email: str) -> bytes:
    """The key of the email's failed-login counter: its wrong passwords, which a password reset forgets."""
    return app.limiter.bucket("login:failures", email)


def second_factor_throttle_bucket(app: Identity, email: str) -> bytes:
    """The key of the email's wrong second factors (TOTP and recovery codes). Counted apart from the
    wrong passwords: a password reset must not forget them, or the mailbox alone would buy fresh
    guesses at the code."""
    return app.limiter.bucket("login:second-factor", email)


def forget_login_failures(app: Identity, conn: psycopg.Connection, email: str) -> None:
    """Forget the email's wrong passwords and wrong second factors (a whole login, an erasure)."""
    for bucket in (login_throttle_bucket(app, email), second_factor_throttle_bucket(app, email)):
        ratelimits.forget_failures(conn, bucket)


def _stands(
    session: session_store.SessionState, account: account_store.Account, issued_at: datetime, now: datetime
) -> bool:
    if session.account_id != account.id or session.revoked_at is not None or session.expires_at <= now:
        return False
    valid_from = account.sessions_valid_from
    return valid_from is None or issued_at >= valid_from


class Match(Enum):
    """What a login's password turned out to be."""

    ACCOUNT = "the account's own password"
    ACCOUNT_AS_TYPED = "the account's own password, its hash made of it as typed, not in NFC"
    REGISTRATION = "the password of a registration not verified yet (or of a decoy)"
    NONE = "no password of this email"


def _check_password(app: Identity, email: str, password: Password) -> Proven:
    """The account when the password is its own; NotVerified when it is a pending registration's (or a
    decoy's); failures per email (known or not) delay further tries (the caller forgets them once the
    whole login succeeds). A login is one failure, however many forms of its password were tried."""
    throttle = login_throttle_bucket(app, email)
    with app.pool.connection() as conn:
        _refuse_while_blocked(app, conn, throttle)
        account = account_store.find_account_by_email(conn, email)
        match = _password_matches(app, conn, account, password)
        with conn.transaction():
            # Guesses sent together all passed the check above: each is judged once those before it
            # are counted, and one judged after the delay started is told to wait, not how it did.
            ratelimits.take_turn(conn, throttle)
            _refuse_while_blocked(app, conn, throttle)
            if match in (Match.ACCOUNT, Match.ACCOUNT_AS_TYPED):
                assert account is not None
                return Proven(account, password, as_typed=match is Match.ACCOUNT_AS_TYPED)
            if match is Match.REGISTRATION:
                # Neither a failure nor a success: a registration's password proves nothing yet, and
                # must not clear the failures counted against the account's own password.
                raise NotVerified()
            _count_failure(app, conn, throttle)
    raise InvalidCredentials()


def _refuse_while_blocked(app: Identity, conn: psycopg.Connection, throttle: bytes) -> None:
    """RateLimited while failed logins make the email's logins wait."""
    blocked_until = ratelimits.blocked_until(conn, throttle)
    if blocked_until is not None:
        raise RateLimited(max(1, int((blocked_until - app.clock()).total_seconds()) + 1))


def _count_failure(app: Identity, conn: psycopg.Connection, throttle: bytes) -> None:
    """One more failed login for the email: past a few, further tries wait longer and longer."""
    failures = ratelimits.count_failure(conn, throttle, app.settings.login_throttle.forget_after_s)
    delay = app.settings.login_throttle.delay_after(failures)
    if delay:
        ratelimits.block(conn, throttle, delay)


def _password_matches(
    app: Identity, conn: psycopg.Connection, account: account_store.Account | None, password: Password
) -> Match:
    """One argon2 run per form of the password (`Password.forms`), up to the first that matches. Which
    forms there are depends on the password alone, never on the email: an unknown email goes through
    both too, and only a right password (which its sender knows already) ends the tries early."""
    for tried, form in enumerate(password.forms()):
        match = _form_matches(app, conn, account, form)
        if match is not Match.NONE:
            return Match.ACCOUNT_AS_TYPED if match is Match.ACCOUNT and tried else match
    return Match.NONE


def _form_matches(
    app: Identity, conn: psycopg.Connection, account: account_store.Account | None, password: str
) -> Match:
    """One argon2 run for any email: a verified account's password and its newest decoy's share a salt."""
    if account is not None and account.verified and account.password_hash:
        candidate = app.hasher.hash_like(account.password_hash, password)
        if same_hash(candidate, account.password_hash):
            return Match.ACCOUNT
        decoy = registration_store.newest_decoy(conn, account.email)
        return Match.REGISTRATION if decoy and same_hash(candidate, decoy.password_hash) else Match.NONE
    # An unknown email still costs one argon2 verification, so timing does not tell it apart.
    stored = _stored_hash(conn, account) or app.dummy_hash
    try:
        if app.hasher.verify(stored, password) and account is not None:
            return Match.REGISTRATION
    except (VerificationError, InvalidHashError):
        pass
    return Match.NONE


def _stored_hash(conn: psycopg.Connection, account: account_store.Account | None) -> str | None:
    """For a pending account, its newest registration's password hash (the right password then
    answers "not verified yet", and still logs nobody in)."""
    if account is None:
        return None
    registration = registration_store.newest_registration(conn, account.id)
    return registration.password_hash if registration is not None else None
