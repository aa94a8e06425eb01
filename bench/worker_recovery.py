"""How soon mails flow again after a mailer worker is killed with SIGKILL mid-burst and restarted.

A worker sends a burst of N CodeIssued events (pre-published to private copies of its topics) into
a private SMTP sink at a limited rate, so the burst is still under way when it is killed with
SIGKILL after a fifth of it; it is restarted at once. Measured from the restart: the first email
again, and the last one of the burst. Three ways of running the worker, each with its own topics,
group and database: static membership (the default: the restarted worker takes its partitions
back at once), a dynamic member with a 10 s session, and a dynamic member with kafka-python's
default 45 s session (how the worker ran before). Target: mails flow again within 10 s.
Run with `make bench BENCH=worker_recovery` (or `.venv/bin/python -m bench.worker_recovery [N]`).
"""

import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from accounts_common.config import LOCAL_KAFKA, LOCAL_POSTGRES
from accounts_common.events.topics import CODES
from bench.chaos.infra import PrivateSink
from bench.mailer_throughput import (
    RUN_ID,
    SINK_MESSAGES,
    first_arrival_after,
    private_mailer_topics,
    publish_code_events,
    received,
)
from bench.support import BenchDatabases
from tests.support.inbox import Inbox
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, run_once

SENDS_PER_SECOND = 60


@dataclass(frozen=True)
class Mode:
    name: str
    env: dict[str, str]


MODES = (
    Mode("static member (default)", {"MAILER_SESSION_TIMEOUT_S": "10"}),
    Mode("dynamic, 10 s session   ", {"MAILER_SESSION_TIMEOUT_S": "10", "MAILER_WORKER_METRICS_PORT": "0"}),
    Mode("dynamic, 45 s (before)  ", {"MAILER_SESSION_TIMEOUT_S": "45", "MAILER_WORKER_METRICS_PORT": "0"}),
)


@dataclass(frozen=True)
class Recovery:
    resumed_s: float
    drained_s: float


def measure(
    mode: Mode, kafka: str, databases: BenchDatabases, smtp_port: int, inbox: Inbox, count: int
) -> Recovery:
    """Burst, SIGKILL after a fifth of it, restart: seconds to the first and to the last email again."""
    tag = f"{RUN_ID}-{MODES.index(mode)}"
    prefix, group = f"bench-recovery-{tag}.", f"mailer-bench-recovery-{tag}"
    log_dir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MAILER_DATABASE_URL": databases.create(f"recovery_{MODES.index(mode)}"),
        "MAILER_CONSUMER_GROUP": group,
        "MAILER_TOPIC_PREFIX": prefix,
        "MAILER_WORKER_METRICS_PORT": str(free_port()),
        "MAILER_MAX_SENDS_PER_SECOND": str(SENDS_PER_SECOND),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "LOG_LEVEL": "WARNING",
        **mode.env,
    }
    worker = ServiceProcess("mailer-worker", ["mailer", "worker"], env, log_dir)
    with private_mailer_topics(kafka, prefix, group):
        try:
            run_once(["mailer", "migrate"], env)
            start = received(inbox)
            publish_code_events(kafka, prefix + CODES, f"recovery-{RUN_ID}@bench.example.org", count)
            worker.start()
            wait_for(lambda: received(inbox) >= start + count // 5, timeout=120, what="the burst under way")
            worker.stop(signal.SIGKILL)
            before_restart = received(inbox)
            restarted = time.perf_counter()
            worker.start()
            resumed = first_arrival_after(
                inbox, before_restart, timeout=120, what="an email after the restart", interval=0.02
            )
            wait_for(
                lambda: received(inbox) >= start + count, timeout=300, what="the whole burst", interval=0.05
            )
            drained = time.perf_counter()
        finally:
            worker.stop()
    return Recovery(resumed - restarted, drained - restarted)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    databases = BenchDatabases(os.environ.get("DATABASE_URL", f"{LOCAL_POSTGRES}/postgres"))
    sink = PrivateSink(Path(tempfile.mkdtemp(prefix="bench-recovery-sink-")), max_messages=SINK_MESSAGES)
    sink.start()
    smtp_port, inbox = sink.smtp_port, sink.inbox
    results = {}
    try:
        for mode in MODES:
            results[mode.name] = measure(mode, kafka, databases, smtp_port, inbox, count)
    finally:
        sink.stop()
        databases.drop_all()
    print(
        f"burst of {count} code emails at {SENDS_PER_SECOND}/s, SIGKILL after {count // 5}, restart at once"
    )
    for name, recovery in results.items():
        print(
            f"{name}: first email {recovery.resumed_s:5.1f} s after the restart, "
            f"burst drained after {recovery.drained_s:5.1f} s"
        )
    static, before = results[MODES[0].name], results[MODES[-1].name]
    print(f"ratio before/static (first email): {before.resumed_s / static.resumed_s:5.1f}   (target: ≤ 10 s)")


if __name__ == "__main__":
    main()
