"""What the mailer does with the bounce mailbox: each hard bounce that returns a mail we sent to its
address suppresses that address for newsletters (unless the account subscribed again since that mail
went) and is reported (EmailFailed, hard, via dsn, with when that mail was sent) for that delivery;
other hard bounces are ignored (anyone can write to the mailbox); soft ones (delays, temporary
failures) are only counted, the remote server still trying."""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import psycopg
from prometheus_client import Counter
from psycopg_pool import ConnectionPool

from accounts_common.housekeeping import Schedule
from mailer.adapters import bounces, deliveries, suppressions
from mailer.adapters.bounces import BounceReport

log = logging.getLogger(__name__)

BOUNCES = Counter("mailer_bounces_total", "Recipients named by the bounce messages read", ["class"])
UNMATCHED = Counter(
    "mailer_bounces_unmatched_total",
    "Hard bounces ignored: they return no mail we sent to their address (forged, or not ours)",
)
UNREADABLE = Counter("mailer_bounce_messages_unreadable_total", "Messages of the bounce mailbox that failed")
EXPIRED = Counter(
    "mailer_bounce_messages_expired_total", "Handled messages of the bounce mailbox deleted by housekeeping"
)
REASON = "a delivery status notification says the address takes no mail (hard bounce)"


def record_report(pool: ConnectionPool, results_topic: str, report: BounceReport) -> int:
    """Apply one bounce message in one transaction; how many hard bounces it held that return a mail
    we sent. Anyone can write to the bounce address, so a hard bounce is acted on only when it
    carries the Message-ID of a mail we sent to its address (which only that mailbox received)."""
    hard = [bounce for bounce in report.bounces if bounce.hard]
    matched = 0
    with pool.connection() as conn, conn.transaction():
        for bounce in hard:
            returned = _returned_delivery(conn, bounce.address, report.original_message_ids)
            if returned is None:
                log.warning("bounces: a hard bounce returns no mail we sent to its address; ignored")
                UNMATCHED.inc()
                continue
            event_id, kind, account_id, recipient, sent_at = returned
            suppressions.suppress(conn, recipient, REASON, "dsn", account_id=account_id, sent_at=sent_at)
            deliveries.publish_failure(
                conn, results_topic, event_id, kind, account_id, recipient, REASON,
                hard=True, via="dsn", sent_at=sent_at,
            )  # fmt: skip
            matched += 1
    for bounce in report.bounces:
        BOUNCES.labels("hard" if bounce.hard else "soft").inc()
    return matched


def _returned_delivery(
    conn: psycopg.Connection, address: str, message_ids: list[str]
) -> tuple[str, str, UUID | None, str, datetime] | None:
    """The mail sent to `address` that the bounce returns (one of `message_ids`), if any, and when
    it was sent; its row locked, so that an erasure of its account waits for the suppression and
    then erases it too (deliveries.erase_account)."""
    if not message_ids:
        return None
    row = conn.execute(
        """SELECT event_id::text, kind, account_id, recipient, sent_at FROM deliveries
           WHERE lower(recipient) = lower(%s) AND status = 'sent' AND message_id = ANY(%s)
           ORDER BY sent_at DESC LIMIT 1 FOR UPDATE""",
        (address, message_ids),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])


def read_maildir(pool: ConnectionPool, results_topic: str, folder: Path) -> int:
    """Handle every new message of the bounce Maildir; how many messages were read. A message that
    fails (a detector's exception, an address the database refuses) is logged and filed as read and
    flagged, so one message cannot stop the others; a database outage stops the reading instead,
    the message left unread for the next round."""
    read = 0
    for raw, done in bounces.unread_messages(folder):
        try:
            _read_message(pool, results_topic, raw, folder)
        except psycopg.OperationalError:
            raise
        except Exception:  # noqa: BLE001 - one unreadable message must not stop the others
            log.exception("bounces: a message in %s could not be read; filed as read and flagged", folder)
            UNREADABLE.inc()
            done(flagged=True)
        else:
            done()
        read += 1
    return read


def _read_message(pool: ConnectionPool, results_topic: str, raw: bytes, folder: Path) -> None:
    report = bounces.parse(raw)
    if not report.bounces:
        log.info("a message in %s is no bounce; filed as read", folder)
    record_report(pool, results_topic, report)


@dataclass(frozen=True)
class MaildirHousekeeping:
    """Every `interval_s` seconds (0: never), the handled messages older than `max_age_s` go."""

    interval_s: float
    max_age_s: float


def expire_handled(folder: Path, max_age_s: float) -> int:
    """Delete the handled messages older than `max_age_s` (not those flagged F, for an operator);
    how many went. A file system that refuses is logged, and the reading goes on."""
    try:
        expired = bounces.expire_read_messages(folder, max_age_s)
    except OSError as error:
        log.warning("bounces: handled messages in %s could not be expired: %s", folder, error)
        return 0
    if expired:
        log.info("bounces: %d handled message(s) expired from %s", expired, folder)
    EXPIRED.inc(expired)
    return expired


def watch_maildir(
    pool: ConnectionPool,
    results_topic: str,
    folder: Path,
    interval: float,
    stop: threading.Event,
    housekeeping: MaildirHousekeeping,
) -> None:
    """Read the Maildir every `interval` seconds until `stop`, and expire its handled messages when
    housekeeping is due."""
    schedule = Schedule(housekeeping.interval_s)
    while not stop.is_set():
        try:
            read_maildir(pool, results_topic, folder)
        except psycopg.OperationalError as error:
            log.warning("bounces: %s; trying again", error)
        if schedule.due():
            expire_handled(folder, housekeeping.max_age_s)
        stop.wait(interval)
