"""A relay that no longer leads stops reporting the parked rows it saw while it did; the lock a leader
holds is freed soon after its host vanished."""

import threading
import uuid

import psycopg
from prometheus_client import REGISTRY

from accounts_common.leader import LeadingProducer
from accounts_common.relay import PARKED_ROWS, PUBLISH_FAILURES, RELAY_LOCK_KEY, OutboxRelay
from tests.conftest import Infra, migrated_database
from tests.support.polling import wait_for
from tests.support.workers import running, stopped_after


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


class SessionProbes(LeadingProducer):
    """Leads once, reads how PostgreSQL watches the session that holds its lock, and stops."""

    lock_key = 0x70726F62  # a key of its own: no relay of another test waits on it
    failures = PUBLISH_FAILURES
    PROBES = ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "tcp_user_timeout")

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url, "127.0.0.1:1", client_id="test-leader-session")
        self.seen: dict[str, int] = {}

    def serve(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        rows = conn.execute(
            "SELECT name, setting::int FROM pg_settings WHERE name = ANY(%s)", (list(self.PROBES),)
        ).fetchall()
        self.seen = dict(rows)
        stop.set()


def test_the_lock_of_a_leader_whose_host_vanished_is_freed_within_a_minute(infra: Infra):
    """A leader's host lost without a word (a node down, a network cut) sends no FIN: PostgreSQL ends
    its session, freeing the advisory lock for a standby, only once TCP finds the peer gone. With the
    server's defaults that took 7200 s of silence and 9 probes 75 s apart (or, a NOTIFY left
    unacknowledged, retransmissions for about a quarter of an hour): no relay published meanwhile.
    No test here can cut a host off, so it reads what the leader's session was told to probe."""
    leader = SessionProbes(infra.postgres)
    with stopped_after(30) as stop:
        leader.run(stop)
    seen = leader.seen
    assert seen, "it led"
    silence_s = seen["tcp_keepalives_idle"] + seen["tcp_keepalives_interval"] * seen["tcp_keepalives_count"]
    assert seen["tcp_keepalives_idle"] > 0 and silence_s <= 60, seen
    assert 0 < seen["tcp_user_timeout"] <= 60_000, seen
