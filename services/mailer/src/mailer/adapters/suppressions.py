"""The addresses no newsletter goes to since a hard bounce, and the subscriptions that lift them.

A hard bounce says the mailbox took no mail when that mail went; a person subscribing to the newsletter
afterwards says it works now. So a subscription lifts the suppression by a mail sent before it, and a
bounce of a mail sent before the account last subscribed (a DSN read late) suppresses nothing: if the
mailbox is still dead, the next mail bounces and suppresses it again.
"""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import psycopg

MAX_REASON_LENGTH = 1000
# The class of the two-key advisory locks of an address (see account_projection's for the key spaces).
ADDRESS_LOCK_CLASS = 0x73757070  # "supp"


def _lock_address(conn: psycopg.Connection, address: str) -> None:
    """Until this transaction ends, no other suppresses `address` or lifts its suppression. Each reads
    what the other writes (a subscription, a suppression): interleaved, neither would see the other's
    row, and a bounce of a mail sent before the subscription would suppress the address for good."""
    conn.execute("SELECT pg_advisory_xact_lock(%s::int4, hashtext(lower(%s)))", (ADDRESS_LOCK_CLASS, address))


def suppress(
    conn: psycopg.Connection,
    address: str,
    reason: str,
    via: str,
    *,
    account_id: UUID | None = None,
    sent_at: datetime | None = None,
) -> None:
    """No newsletter to `address` any more (the first reason is kept, the latest mail's time), unless
    the mail that bounced, sent at `sent_at`, went before the account (`account_id`) last subscribed.
    The account is kept with it: its erasure forgets the address (deliveries.erase_account)."""
    _lock_address(conn, address)
    conn.execute(
        """INSERT INTO suppressions (address, reason, via, sent_at, account_id)
           SELECT lower(%(address)s), %(reason)s, %(via)s, %(sent)s::timestamptz, %(account)s::uuid
           WHERE NOT EXISTS (SELECT 1 FROM newsletter_subscriptions
                             WHERE account_id = %(account)s::uuid AND subscribed_at > %(sent)s::timestamptz)
           ON CONFLICT (address) DO UPDATE SET sent_at = greatest(suppressions.sent_at, EXCLUDED.sent_at),
               account_id = coalesce(EXCLUDED.account_id, suppressions.account_id)""",
        {
            "address": address,
            "reason": reason[:MAX_REASON_LENGTH],
            "via": via,
            "sent": sent_at,
            "account": account_id,
        },
    )


def subscribed(conn: psycopg.Connection, account_id: UUID, address: str, at: datetime) -> None:
    """The account subscribed to the newsletter with `address` at `at`: the address's suppression by a
    mail sent before then is lifted, and such mails' bounces suppress it no more (a subscription
    handled late, or again, leaves the suppression by a mail sent since). Nothing, for an account
    erased before (the subscription comes on another topic than AccountDeleted, and may come later).
    One transaction (the worker's handlers run on autocommit connections), holding the address's lock
    throughout."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM erased_accounts WHERE account_id = %s", (account_id,)).fetchone():
            return
        _lock_address(conn, address)
        conn.execute(
            "DELETE FROM suppressions WHERE address = lower(%s) AND coalesce(sent_at, created_at) < %s",
            (address, at),
        )
        conn.execute(
            """INSERT INTO newsletter_subscriptions (account_id, subscribed_at) VALUES (%s, %s)
               ON CONFLICT (account_id) DO UPDATE SET subscribed_at =
                   greatest(newsletter_subscriptions.subscribed_at, EXCLUDED.subscribed_at)""",
            (account_id, at),
        )
        # Asked again after the row is written: an erasure committing its id meanwhile has either seen
        # the row or is seen here (deliveries.erase_account), whatever the interleaving.
        conn.execute(
            """DELETE FROM newsletter_subscriptions WHERE account_id = %(account)s
               AND EXISTS (SELECT 1 FROM erased_accounts WHERE account_id = %(account)s)""",
            {"account": account_id},
        )


def suppressed_among(conn: psycopg.Connection, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses (as given) are suppressed."""
    # Lower-cased by the database, as `suppress` stored them: Python's lower() differs from a C
    # locale's beyond ASCII ("É"), and a suppressed address would be mailed again.
    rows = conn.execute(
        """SELECT given FROM unnest(%s::text[]) AS given
           WHERE EXISTS (SELECT 1 FROM suppressions WHERE address = lower(given))""",
        (list(addresses),),
    ).fetchall()
    return {row[0] for row in rows}
