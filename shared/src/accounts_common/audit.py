"""The audit trail: every operator action is an OperatorActionRecorded event, written through the acting
service's outbox in the same transaction as the action itself (DESIGN §8)."""

from datetime import UTC, datetime
from uuid import UUID

import psycopg

from accounts_common import outbox
from accounts_common.events import new_event
from accounts_common.events.topics import OPERATOR_ACTIONS


def record_action(
    conn: psycopg.Connection,
    *,
    source: str,
    actor_account_id: UUID | None,
    action: str,
    target: str,
    outcome: str = "ok",
) -> None:
    """Put the action in the outbox, in the caller's transaction; no actor means the command line."""
    data = {
        "actor_account_id": str(actor_account_id) if actor_account_id else None,
        "action": action,
        "target": target,
        "at": datetime.now(UTC).isoformat(),
        "outcome": outcome,
        "via": "api" if actor_account_id else "cli",
    }
    subject = str(actor_account_id) if actor_account_id else "cli"
    event = new_event("OperatorActionRecorded", source=source, subject=subject, data=data)
    outbox.enqueue(conn, OPERATOR_ACTIONS, event)
