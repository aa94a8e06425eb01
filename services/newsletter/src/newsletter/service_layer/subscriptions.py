"""Use cases of subscribers: subscribe, unsubscribe (by the user, one click or deletion), status."""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import psycopg

from accounts_common.account_projection import known_account_email, remember_verified_account
from accounts_common.auth import Principal
from accounts_common.events import new_event
from accounts_common.events.topics import SUBSCRIPTION_EVENTS
from accounts_common.outbox import enqueue
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter

SOURCE = "/newsletter"


class AccountErased(Exception):
    """The account was deleted: it can never subscribe again."""


@dataclass(frozen=True)
class Subscription:
    subscribed: bool
    since: datetime | None
    reason: str | None = None  # when not subscribed: why the last subscription ended (bounce, …)


def subscribe(newsletter: Newsletter, principal: Principal) -> tuple[Subscription, bool]:
    """Subscribe the token's (verified) account; the subscription and whether it is new."""
    with newsletter.pool.connection() as conn, conn.transaction():
        # The token's signed email_verified claim is proof enough: AccountVerified may still be on its way.
        remember_verified_account(
            conn, principal.account_id, principal.email, datetime.now(UTC), principal.locale
        )
        email = known_account_email(conn, principal.account_id)
        if email is None:
            raise AccountErased()
        added = repository.add_subscriber(conn, principal.account_id)
        if added is None:
            return Subscription(True, repository.subscribed_since(conn, principal.account_id)), False
        # `at` is the subscription's own time, as the delivery requests give it (subscribed_at).
        _publish(newsletter, conn, "NewsletterSubscribed", principal.account_id, email, "user", at=added)
        return Subscription(True, added), True


def status(newsletter: Newsletter, account_id: UUID) -> Subscription:
    """Whether the account is subscribed, and since when."""
    with newsletter.pool.connection() as conn:
        since = repository.subscribed_since(conn, account_id)
        if since is not None:
            return Subscription(True, since)
        return Subscription(False, None, repository.ending_reason(conn, account_id))


def unsubscribe(newsletter: Newsletter, account_id: UUID, reason: str) -> bool:
    """Unsubscribe the account (idempotent); False when it was not subscribed."""
    with newsletter.pool.connection() as conn, conn.transaction():
        return unsubscribe_in(newsletter, conn, account_id, reason)


def unsubscribe_in(
    newsletter: Newsletter,
    conn: psycopg.Connection,
    account_id: UUID,
    reason: str,
    started_by: datetime | None = None,
) -> bool:
    """Unsubscribe inside the caller's transaction, with NewsletterUnsubscribed in the outbox; with
    `started_by`, only a subscription that started by then."""
    email = known_account_email(conn, account_id)
    subscriber_id = repository.remove_subscriber(conn, account_id, started_by)
    if subscriber_id is None:
        return False
    if reason != "account_deleted":  # AccountDeleted's handler erases the account's ending
        repository.record_ending(conn, account_id, reason, subscriber_id)
    if email is not None:  # a subscriber always has a known email; the event needs it
        _publish(newsletter, conn, "NewsletterUnsubscribed", account_id, email, reason)
    return True


def _publish(
    newsletter: Newsletter,
    conn: psycopg.Connection,
    event_type: str,
    account_id: UUID,
    email: str,
    reason: str,
    at: datetime | None = None,
) -> None:
    data = {
        "account_id": str(account_id),
        "email": email,
        "at": (at or datetime.now(UTC)).isoformat(),
        "reason": reason,
    }
    event = new_event(event_type, source=SOURCE, subject=str(account_id), data=data)
    enqueue(conn, SUBSCRIPTION_EVENTS, event)


def end_for_bounce(
    newsletter: Newsletter, conn: psycopg.Connection, account_id: UUID, email: str, sent_at: datetime | None
) -> bool:
    """A mail to `email`, sent at `sent_at`, bounced for good: end the account's subscription (reason
    bounce), unless the account has moved to another address since, or subscribed after that mail
    went (the person vouched for the mailbox since; a bounce read late must not end it). Without
    `sent_at` (an older mailer's event) any subscription ends."""
    current = known_account_email(conn, account_id)
    if current is None or current.casefold() != email.casefold():
        return False
    return unsubscribe_in(newsletter, conn, account_id, "bounce", started_by=sent_at)
