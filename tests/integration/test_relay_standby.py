"""A relay that no longer leads stops reporting the parked rows it saw while it did."""

import uuid

import psycopg
from prometheus_client import REGISTRY

from accounts_common.relay import PARKED_ROWS, RELAY_LOCK_KEY, OutboxRelay
from tests.conftest import Infra, migrated_database
from tests.support.polling import wait_for
from tests.support.workers import running


def parked_rows_reported() -> float | None:
    return REGISTRY.get_sample_value("outbox_parked_rows")


def test_a_relay_on_standby_reports_no_parked_rows(infra: Infra):
    """Its figure from when it led would stay for good: `max by (job)` would keep OutboxRowsParked
    firing after the rows were replayed and the new leader reports 0."""
    url = migrated_database(infra, f"test_relay_standby_{uuid.uuid4().hex[:8]}")
    PARKED_ROWS.set(2)  # what this process reported while it led, before another relay took over
    relay = OutboxRelay(url, "127.0.0.1:1", client_id="test-relay-standby", poll_interval=0.05)
    with psycopg.connect(url, autocommit=True) as leader:
        leader.execute("SELECT pg_advisory_lock(%s)", (RELAY_LOCK_KEY,))
        with running(relay.run):
            wait_for(lambda: parked_rows_reported() == 0, timeout=10, what="the standby's figure")
