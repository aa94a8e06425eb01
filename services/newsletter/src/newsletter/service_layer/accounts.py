"""What the newsletter does with identity's account events."""

from typing import Any

import psycopg

from accounts_common.account_projection import (
    ACCOUNT_PROJECTION_HANDLERS,
    lock_account,
    record_account_deleted,
    record_role_change,
)
from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from accounts_common.roles import Role
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.issues import hold_issues_scheduled_by
from newsletter.service_layer.subscriptions import unsubscribe_in


def account_event_handlers(newsletter: Newsletter) -> dict[str, Handler]:
    """The known-accounts projection (verified accounts, current emails, revocations); on
    AccountDeleted the subscriber's unsubscription before the projection erases the address; and the
    issues scheduled by an editor who lost the role or the account back to draft."""

    def account_deleted(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        lock_account(conn, data["account_id"])  # before the unsubscription: a subscribe waits or is seen
        unsubscribe_in(newsletter, conn, data["account_id"], "account_deleted")
        # Also when no longer subscribed: the ending of an earlier subscription is the account's too.
        repository.forget_account(conn, data["account_id"])
        account = data["account_id"]  # every token of a deleted account is dead, whenever issued
        hold_issues_scheduled_by(newsletter, conn, account, "account-deleted", account, None)
        record_account_deleted(conn, event, data)

    def role_revoked(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        record_role_change(conn, event, data)
        if data["role"] == Role.NEWSLETTER_EDITOR:  # the actor: None when revoked from the command line
            hold_issues_scheduled_by(
                newsletter,
                conn,
                data["account_id"],
                "role-revoked",
                data["actor_account_id"],
                data["changed_at"],
            )

    return {
        **ACCOUNT_PROJECTION_HANDLERS,
        "AccountDeleted": account_deleted,
        "StaffRoleRevoked": role_revoked,
    }
