"""A hard bounce and the subscription that vouches for the mailbox since, handled at the same moment by
two of the mailer's processes (the bounces reader, a worker) against the real database: whichever
comes first, a bounce of a mail sent before the subscription leaves the address open to newsletters."""

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from mailer.adapters import suppressions
from mailer.migrations import MAILER_MIGRATIONS
from tests.conftest import database_fixtures
from tests.support.locks import first_then_second, in_transaction

suppression_db, suppression_pool = database_fixtures("suppression", MAILER_MIGRATIONS)


class BounceAfterDelete:
    """The worker's autocommit connection (the mailer's consumer runs its handlers without an inbox
    transaction), on which the bounces reader's transaction runs right after the subscription's DELETE."""

    def __init__(self, conn: psycopg.Connection, bounce: threading.Thread) -> None:
        self._conn = conn
        self._bounce = bounce

    def execute(self, query: str, params: Any = None) -> psycopg.Cursor[Any]:
        cursor = self._conn.execute(query, params)
        if query.startswith("DELETE FROM suppressions"):
            self._bounce.start()
            self._bounce.join(timeout=1.0)  # it finishes now unless it waits for the subscription
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize("bounce_first", [True, False], ids=["bounce-first", "bounce-amid-subscription"])
def test_a_bounce_of_an_older_mail_and_a_subscription_at_once_leave_the_address_open(
    suppression_pool: ConnectionPool, bounce_first: bool
) -> None:
    address = f"Vouched-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    with suppression_pool.connection() as conn:
        [now] = conn.execute("SELECT now()").fetchone()  # type: ignore[misc]
    mail_sent_at: datetime = now - timedelta(minutes=5)

    def bounce(conn: psycopg.Connection) -> None:  # bounces.record_report, in its transaction
        suppressions.suppress(conn, address, "5.1.1", "dsn", account_id=account, sent_at=mail_sent_at)

    def subscribe(conn: psycopg.Connection) -> None:  # the worker's NewsletterSubscribed handler
        suppressions.subscribed(conn, account, address.lower(), now)

    if bounce_first:
        first_then_second(suppression_pool, bounce, subscribe, autocommit=True)
    else:
        other = threading.Thread(target=in_transaction, args=(suppression_pool, bounce))
        with suppression_pool.connection() as conn:
            subscribe(BounceAfterDelete(conn, other))  # type: ignore[arg-type]
        other.join(timeout=10.0)
        assert not other.is_alive()
    with suppression_pool.connection() as conn:
        assert suppressions.suppressed_among(conn, [address]) == set()
