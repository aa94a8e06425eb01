"""What the mailer does with the bounce mailbox: each hard bounce suppresses its address for
newsletters and is reported (EmailFailed, hard, via dsn) for the delivery it returns; soft ones
(delays, temporary failures) are only counted, the remote server still trying."""

import logging
import threading
from pathlib import Path
from uuid import UUID

import psycopg
from prometheus_client import Counter
from psycopg_pool import ConnectionPool

from mailer.adapters import bounces, deliveries
from mailer.adapters.bounces import BounceReport

log = logging.getLogger(__name__)

BOUNCES = Counter("mailer_bounces_total", "Recipients named by the bounce messages read", ["class"])
REASON = "a delivery status notification says the address takes no mail (hard bounce)"


def record_report(pool: ConnectionPool, results_topic: str, report: BounceReport) -> int:
    """Apply one bounce message in one transaction; how many hard bounces it held."""
    hard = [bounce for bounce in report.bounces if bounce.hard]
    with pool.connection() as conn, conn.transaction():
        for bounce in hard:
            deliveries.suppress(conn, bounce.address, REASON, "dsn")
            returned = _returned_delivery(conn, bounce.address, report.original_message_ids)
            if returned is not None:
                event_id, kind, account_id, recipient = returned
                deliveries.publish_failure(
                    conn, results_topic, event_id, kind, account_id, recipient, REASON, hard=True, via="dsn"
                )
    for bounce in report.bounces:
        BOUNCES.labels("hard" if bounce.hard else "soft").inc()
    return len(hard)


def _returned_delivery(
    conn: psycopg.Connection, address: str, message_ids: list[str]
) -> tuple[str, str, UUID | None, str] | None:
    """The delivery the bounce returns: the one with its Message-ID, else the latest sent to the address."""
    row = conn.execute(
        """SELECT event_id::text, kind, account_id, recipient FROM deliveries
           WHERE lower(recipient) = lower(%s) AND status = 'sent'
           ORDER BY message_id = ANY(%s) DESC, sent_at DESC LIMIT 1""",
        (address, message_ids),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def read_maildir(pool: ConnectionPool, results_topic: str, folder: Path) -> int:
    """Handle every new message of the bounce Maildir; how many messages were read."""
    read = 0
    for raw, done in bounces.unread_messages(folder):
        report = bounces.parse(raw)
        if not report.bounces:
            log.info("a message in %s is no bounce; filed as read", folder)
        record_report(pool, results_topic, report)
        done()
        read += 1
    return read


def watch_maildir(
    pool: ConnectionPool, results_topic: str, folder: Path, interval: float, stop: threading.Event
) -> None:
    """Read the Maildir every `interval` seconds until `stop`."""
    while not stop.is_set():
        try:
            read_maildir(pool, results_topic, folder)
        except psycopg.OperationalError as error:
            log.warning("bounces: %s; trying again", error)
        stop.wait(interval)
