"""The audit trail: every operator action is an OperatorActionRecorded event, written through the acting
service's outbox in the same transaction as the action itself (DESIGN §8)."""

from collections.abc import Iterable
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
    record_actions(
        conn,
        source=source,
        actor_account_id=actor_account_id,
        action=action,
        targets=[target],
        outcome=outcome,
    )


def record_actions(
    conn: psycopg.Connection,
    *,
    source: str,
    actor_account_id: UUID | None,
    action: str,
    targets: Iterable[str],
    outcome: str = "ok",
) -> None:
    """The same action on each of `targets` (a page of dead letters read), one entry each, put in the
    outbox in one round trip, in the caller's transaction; no actor means the command line."""
    at = datetime.now(UTC).isoformat()
    actor = str(actor_account_id) if actor_account_id else None
    events = [
        new_event(
            "OperatorActionRecorded",
            source=source,
            subject=actor or "cli",
            data={
                "actor_account_id": actor,
                "action": action,
                "target": target,
                "at": at,
                "outcome": outcome,
                "via": "api" if actor else "cli",
            },
        )
        for target in targets
    ]
    outbox.enqueue_all(conn, OPERATOR_ACTIONS, events)
