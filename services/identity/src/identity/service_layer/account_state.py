"""The account's latest state on identity.accounts.v1 (compacted), written with the event that changed it."""

from uuid import UUID

import psycopg

from accounts_common import outbox
from accounts_common.events import CloudEvent
from accounts_common.events.topics import ACCOUNT_STATE
from identity.adapters import account_store


def record_state(conn: psycopg.Connection, account_id: UUID, event: CloudEvent) -> None:
    """Put the account's state after `event` (its version one higher) in the outbox, after the event."""
    state = account_store.next_state_version(conn, account_id)
    value = {
        "account_id": str(state.id),
        "email": state.email,
        "verified": state.verified_at is not None,
        "verified_at": state.verified_at.isoformat() if state.verified_at else None,
        "created_at": state.created_at.isoformat(),
        "version": state.state_version,
    }
    outbox.enqueue_state(conn, ACCOUNT_STATE, str(account_id), value, follows=event)


def record_erasure(conn: psycopg.Connection, account_id: UUID, event: CloudEvent) -> None:
    """Put a tombstone for the deleted account in the outbox: compaction then erases its state."""
    outbox.enqueue_state(conn, ACCOUNT_STATE, str(account_id), None, follows=event)
