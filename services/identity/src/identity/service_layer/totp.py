"""Use cases of the second factor: enrol a TOTP authenticator, confirm it with a first code (which
hands out the recovery codes, once), and check a code at login."""

from dataclasses import dataclass
from uuid import UUID

import psycopg

from identity.adapters import account_store, staff
from identity.bootstrap import Identity
from identity.domain import totp
from identity.service_layer.errors import (
    InvalidSecondFactor,
    TotpAlreadyEnrolled,
    TotpNotStarted,
    Unauthenticated,
)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def start_enrolment(app: Identity, account: account_store.Account) -> Enrolment:
    """A new secret for the account's authenticator app, to be confirmed with its first code."""
    secret = totp.new_secret()
    with app.pool.connection() as conn, conn.transaction():
        _lock_account(conn, account.id)
        # One statement decides: a check before it could miss a confirmation committed meanwhile, and
        # the secret answered would be one never kept.
        if not staff.start_totp(conn, account.id, app.sealer.encrypt(secret)):
            raise TotpAlreadyEnrolled()
    return Enrolment(secret, totp.provisioning_uri(secret, account.email))


def confirm_enrolment(app: Identity, account: account_store.Account, code: str) -> list[str]:
    """Confirm the enrolment with a code from the app; the recovery codes, shown this once."""
    recovery_codes = totp.new_recovery_codes()
    with app.pool.connection() as conn, conn.transaction():
        _lock_account(conn, account.id)
        credential = staff.totp_credential(conn, account.id, lock=True)
        if credential is None:
            raise TotpNotStarted()
        if credential.confirmed_at is not None:
            raise TotpAlreadyEnrolled()
        step = totp.accepted_step(app.sealer.decrypt(credential.secret_sealed), code, app.clock(), 0)
        if step is None:
            raise InvalidSecondFactor()
        staff.use_totp_step(conn, account.id, step, confirm=True)
        staff.replace_recovery_codes(conn, account.id, [totp.recovery_code_hash(c) for c in recovery_codes])
    return recovery_codes


def _lock_account(conn: psycopg.Connection, account_id: UUID) -> None:
    """Lock the caller's account, before its second factor (the order of a deletion, which takes the
    credential with it); Unauthenticated when it was deleted since the request's checks: a deleted
    account's token, with nothing to enrol or confirm."""
    if account_store.find_account(conn, account_id, lock=True) is None:
        raise Unauthenticated()


def second_factor_passes(app: Identity, conn: psycopg.Connection, account_id: UUID, code: str) -> bool:
    """Whether `code` (a TOTP code, or an unused recovery code) proves the second factor; spends it."""
    credential = staff.totp_credential(conn, account_id, lock=True)
    if credential is None or credential.confirmed_at is None:
        return False
    code = "".join(code.split())  # apps show "123 456"; recovery codes ignore spacing anyway
    if not totp.looks_like_totp(code):
        return staff.use_recovery_code(conn, account_id, totp.recovery_code_hash(code))
    secret = app.sealer.decrypt(credential.secret_sealed)
    step = totp.accepted_step(secret, code, app.clock(), credential.last_step)
    if step is None:
        return False
    staff.use_totp_step(conn, account_id, step)
    return True
