"""`accounts-dlq parked` counts the rows that really wait behind a parked row: the later rows of its
topic and key, and the state records of those events; not the rows of its key on other topics."""

import uuid

import psycopg
import pytest

from accounts_common import dlq, outbox
from accounts_common.db import create_pool
from accounts_common.events import new_event
from tests.conftest import Infra, migrated_database

EVENTS = "test.parked-events"
CODES = "test.parked-codes"
STATES = "test.parked-states"


def registered(account: str):  # type: ignore[no-untyped-def]
    data = {
        "account_id": account,
        "email": f"{account[:8]}@example.org",
        "registered_at": "2026-12-06T10:00Z",
    }
    return new_event("UserRegistered", source="/tests", subject=account, data=data)


def two_events_and_their_states(conn: psycopg.Connection, account: str) -> int:
    """Two events of the account with a state record each, the first parked; its outbox row's id."""
    parked, later = registered(account), registered(account)
    for event in (parked, later):
        with conn.transaction():
            outbox.enqueue(conn, EVENTS, event)
            outbox.enqueue_state(conn, STATES, account, {"version": 1}, follows=event)
    [(parked_id,)] = conn.execute("SELECT id FROM outbox WHERE event_id = %s", (parked.id,)).fetchall()
    outbox.park(conn, parked_id, "MessageSizeTooLargeError: too large")
    return parked_id


def test_the_listing_counts_only_the_rows_held_back_by_the_parked_one(infra: Infra):
    url = migrated_database(infra, f"test_outbox_parked_{uuid.uuid4().hex[:8]}")
    account = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        parked_id = two_events_and_their_states(conn, account)
        outbox.enqueue(conn, CODES, registered(account))  # another topic: published, never held

        [row] = outbox.parked_rows(conn)

    # The later event, its state record, and the parked event's own state record.
    assert (row.id, row.waiting_behind) == (parked_id, 3)


def test_rows_held_back_by_a_parked_row_do_not_age_the_outbox(infra: Infra):
    """They wait for an operator (OutboxRowsParked warns), not for the relay: OutboxNotPublishing,
    which pages to check the relay and Kafka, reads only what the relay could publish."""
    url = migrated_database(infra, f"test_outbox_held_{uuid.uuid4().hex[:8]}")
    account = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        two_events_and_their_states(conn, account)
        conn.execute("UPDATE outbox SET created_at = now() - interval '1 hour'")

    with create_pool(url, name="test-outbox-held") as pool:
        [gauge] = outbox.oldest_pending_age_gauge(pool).values()
        assert gauge.read() == 0.0

        with pool.connection() as conn:
            outbox.enqueue(conn, CODES, registered(account))  # another topic: the relay's to publish
            conn.execute(
                "UPDATE outbox SET created_at = now() - interval '1 minute' WHERE topic = %s", (CODES,)
            )
        assert 59 < gauge.read() < 3600


def test_replay_parked_of_an_id_that_is_not_parked_exits_1_naming_it(infra: Infra, capsys):
    url = migrated_database(infra, f"test_outbox_replay_id_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(url, autocommit=True) as conn:
        parked_id = two_events_and_their_states(conn, str(uuid.uuid4()))
    mistyped = parked_id + 1000
    with pytest.raises(SystemExit) as done:
        dlq.main(["replay-parked", "--database-url", url, "--id", str(parked_id), "--id", str(mistyped)])
    assert str(done.value.code) == f"accounts-dlq: not parked, left as they are: row(s) {mistyped}"
    assert capsys.readouterr().out == "1 parked row(s) put back in the queue\n"
    with psycopg.connect(url) as conn:
        assert outbox.parked_rows(conn) == []
