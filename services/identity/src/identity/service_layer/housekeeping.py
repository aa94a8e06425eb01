"""Periodic clean-up: expired registrations (and the pending accounts they leave empty), codes,
sessions and counters, so that no table of identity grows without bound."""

import dataclasses
import logging
import threading
import time

from prometheus_client import Counter, Histogram

from identity.adapters import repository
from identity.bootstrap import Identity
from identity.service_layer.codes import GUESS_WINDOW_S, publish_deleted

log = logging.getLogger(__name__)

ROWS_DELETED = Counter("identity_housekeeping_rows_deleted", "Rows deleted by housekeeping", ["table"])
SWEEP_SECONDS = Histogram("identity_housekeeping_seconds", "Time one housekeeping sweep took")
CODE_SEND_WINDOW_S = 3600  # the hourly cap on codes per email


def sweep(app: Identity) -> dict[str, int]:
    """Delete what has expired; return the rows deleted per table."""
    settings = app.settings
    limits = settings.rate_limits
    longest_rate_window = max(getattr(limits, item.name).window_s for item in dataclasses.fields(limits))
    deleted: dict[str, int] = {}
    with SWEEP_SECONDS.time(), app.pool.connection() as conn:
        with conn.transaction():
            deleted["registrations"] = repository.delete_expired_registrations(conn)
            abandoned = repository.delete_abandoned_accounts(conn)
            for account_id in abandoned:
                publish_deleted(app, conn, account_id)  # its address left in other services' logs goes
            deleted["accounts"] = len(abandoned)
        deleted.update(
            repository.delete_expired_rows(
                conn,
                guess_window_s=GUESS_WINDOW_S,
                code_send_window_s=CODE_SEND_WINDOW_S,
                rate_window_s=longest_rate_window,
                login_forget_after_s=settings.login_throttle.forget_after_s,
            )
        )
    for table, count in deleted.items():
        ROWS_DELETED.labels(table).inc(count)
    return deleted


def keep_tidy(app: Identity, stop: threading.Event, interval_s: float) -> None:
    """Sweep every `interval_s` seconds until `stop` is set; a failed sweep is logged and retried."""
    while not stop.wait(interval_s):
        started = time.monotonic()
        try:
            deleted = sweep(app)
        except Exception:  # noqa: BLE001 - the next sweep tries again; the relay must keep running
            log.exception("housekeeping sweep failed")
            continue
        log.info("housekeeping: %s in %.3f s", deleted, time.monotonic() - started)
