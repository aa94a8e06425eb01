"""The outbox backlog after a Kafka outage: signups go on for 60 s with the broker down.

A broker of the benchmark's own (it is stopped), an SMTP sink of its own, the stack of `make
chaos` on the shared PostgreSQL. Signups arrive at a constant rate throughout; after 10 s the
broker stops for 60 s. Prints how many events waited in the outbox, how fast the relay drained
them once the broker was back (events published per second from its return until the outbox was
empty), and the longest time a code email took from its signup to the sink.
Run: `make bench BENCH=outbox_backlog` (or `.venv/bin/python -m bench.outbox_backlog [--rate R]`).
"""

import argparse
import os
import threading
import time
from datetime import datetime

import psycopg

from accounts_common.events.topics import ensure_topics
from bench.chaos.infra import PrivateKafka, PrivateSink
from bench.chaos.stack import ChaosStack, StackConfig
from bench.signup_load import Run, code_latencies, open_loop
from bench.support import LOGS, BenchDatabases, describe_ms, infra_env

BEFORE_S, AFTER_S = 10.0, 10.0
DRAIN_STALL_S = 60.0  # the outbox not shrinking that long with the broker back: no relay publishes


def pending(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
    assert row is not None
    return row[0]


def published_between(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    row = conn.execute(
        "SELECT count(*) FROM outbox WHERE published_at >= %s AND published_at <= %s", (start, end)
    ).fetchone()
    assert row is not None
    return row[0]


def database_now(conn: psycopg.Connection) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def wait_drained(conn: psycopg.Connection, backlog: int, stall_s: float = DRAIN_STALL_S) -> int:
    """Poll until the outbox is empty; the highest backlog seen meanwhile. SystemExit once it has not
    gone down for `stall_s` seconds: the relay is not publishing, and the figures would never come."""
    highest = previous = backlog
    progressed = time.monotonic()
    while (left := pending(conn)) > 0:
        highest = max(highest, left)
        if left < previous:
            progressed = time.monotonic()
        elif time.monotonic() - progressed > stall_s:
            raise SystemExit(
                f"the outbox holds {left} events and has not shrunk for {stall_s:.0f} s: "
                f"is the relay publishing? (logs: {LOGS})"
            )
        previous = left
        time.sleep(0.1)
    return highest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=10.0, help="signups per second (default 10)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the broker is down (default 60)")
    args = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    databases = BenchDatabases(infra_env()["DATABASE_URL"])
    kafka, sink = PrivateKafka(), PrivateSink(LOGS)
    kafka.reset_and_start()
    ensure_topics(kafka.bootstrap_servers)
    sink.start()
    identity_url = databases.create("identity")
    stack = ChaosStack(
        StackConfig(
            kafka.bootstrap_servers, identity_url, databases.create("mailer"), sink.smtp_port, "mailer", LOGS
        )
    )
    runs: list[Run] = []
    try:
        stack.start()
        seconds = BEFORE_S + args.outage + AFTER_S
        signups = threading.Thread(
            target=lambda: runs.append(open_loop(stack.identity_url, args.rate, seconds))
        )
        signups.start()
        with psycopg.connect(identity_url, autocommit=True) as conn:
            time.sleep(BEFORE_S)
            kafka.stop()
            time.sleep(args.outage)
            backlog = pending(conn)
            kafka.start()
            back_at, back_at_db = time.monotonic(), database_now(conn)
            highest = wait_drained(conn, backlog)
            drain_s, drained_at_db = time.monotonic() - back_at, database_now(conn)
            published = published_between(conn, back_at_db, drained_at_db)
        signups.join()
        latencies = code_latencies(sink, runs[0])
    finally:
        stack.stop()
        sink.stop()
        kafka.stop()
        databases.drop_all()
    print(
        f"outbox_backlog: {os.cpu_count()} CPUs, {args.rate:.0f} signups/s, broker down {args.outage:.0f} s"
    )
    print(f"  {runs[0].describe()}")
    print(f"  backlog when the broker came back: {backlog} events (highest seen while draining {highest})")
    print(
        f"  drained in {drain_s:.1f} s after the broker was ready: {published} events published, "
        f"{published / drain_s:.0f} events/s"
    )
    print(f"  signup → code in the sink: {describe_ms(latencies)}; longest {max(latencies):.1f} s")


if __name__ == "__main__":
    main()
