"""Identity's housekeeping: expired registrations (erasing the pending accounts they leave empty),
codes, sessions and counters, so that no table of identity grows without bound. The relay runs it
(accounts_common.housekeeping); `identity housekeeping` runs one sweep."""

import dataclasses

import psycopg

from accounts_common.housekeeping import ROWS_DELETED, Expiry, delete_expired
from identity.adapters import account_store, registration_store
from identity.bootstrap import Identity
from identity.service_layer.codes import GUESS_WINDOW, publish_deleted
from identity.settings import Settings

CODE_SEND_WINDOW_S = 3600  # the hourly cap on codes per email
DAY_S = 86400


def expiries(settings: Settings) -> tuple[Expiry, ...]:
    """The tables whose rows no rule reads once they are old enough."""
    limits = settings.rate_limits
    longest_rate_window = max(getattr(limits, item.name).window_s for item in dataclasses.fields(limits))
    throttle = settings.login_throttle
    return (
        Expiry("sessions", "expires_at", DAY_S),
        Expiry("reset_codes", "code_expires_at", DAY_S),
        Expiry("password_reset_tokens", "expires_at", 0),
        Expiry("code_sends", "sent_at", CODE_SEND_WINDOW_S),
        Expiry("code_guess_log", "changed_at", GUESS_WINDOW.total_seconds()),
        Expiry("rate_limits", "window_started_at", longest_rate_window),
        # A block never outlasts its failure by more than the longest delay.
        Expiry("login_failures", "last_failure_at", max(throttle.forget_after_s, throttle.max_delay_s)),
    )


def purge_expired_registrations(app: Identity, conn: psycopg.Connection) -> dict[str, int]:
    """Drop registrations past their expiry, and erase the pending accounts left with none (announced
    with AccountDeleted, so other services forget the address too)."""
    with conn.transaction():
        registrations = registration_store.delete_expired_registrations(conn)
        abandoned = account_store.delete_abandoned_accounts(conn)
        for account_id in abandoned:
            publish_deleted(app, conn, account_id)
    ROWS_DELETED.labels("registrations").inc(registrations)
    ROWS_DELETED.labels("accounts").inc(len(abandoned))
    return {"registrations": registrations, "accounts": len(abandoned)}


def sweep(app: Identity) -> dict[str, int]:
    """One whole sweep; the rows deleted per table."""
    with app.pool.connection() as conn:
        return {**purge_expired_registrations(app, conn), **delete_expired(conn, expiries(app.settings))}
