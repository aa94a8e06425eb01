"""What the newsletter does with identity's account events."""

from typing import Any

import psycopg

from accounts_common.account_projection import (
    ACCOUNT_PROJECTION_HANDLERS,
    lock_account,
    record_account_deleted,
)
from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.subscriptions import unsubscribe_in


def account_event_handlers(newsletter: Newsletter) -> dict[str, Handler]:
    """The known-accounts projection (verified accounts, current emails, revocations), and on
    AccountDeleted the subscriber's unsubscription before the projection erases the address."""

    def account_deleted(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        lock_account(conn, data["account_id"])  # before the unsubscription: a subscribe waits or is seen
        unsubscribe_in(newsletter, conn, data["account_id"], "account_deleted")
        # Also when no longer subscribed: the ending of an earlier subscription is the account's too.
        repository.forget_account(conn, data["account_id"])
        record_account_deleted(conn, event, data)

    return {**ACCOUNT_PROJECTION_HANDLERS, "AccountDeleted": account_deleted}
