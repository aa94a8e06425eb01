"""The mailer's throughput into an SMTP sink with 1 and 2 workers, next to a bare smtplib loop.

DESIGN §7 holds one worker to ≥ 300 emails/s with 0 duplicates; issue #12 to ≥ 1.0× a bare
single-connection smtplib loop sending the same emails, composed beforehand, into the same sink
in the same run. For each number of workers, N CodeIssued events (one account each) are
pre-published to fresh private copies of the mailer's topics (other consumers of the shared
cluster see none of them), and the workers, each with MAILER_SMTP_CONNECTIONS connections (the
default unless set), send them into the benchmark's own sink; the rate is counted from the first
email in the sink to the N-th. The bare loop's rate on this machine swings by ±15 % from one run
to the next, so the three are measured back to back in each of several rounds, and each ratio is
against the bare loop of its own round; the medians are reported. Run: `make bench
BENCH=mailer_throughput` (or `.venv/bin/python -m bench.mailer_throughput [N [ROUNDS]]`, default
3000 emails, 3 rounds).
"""

import argparse
import collections
import os
import smtplib
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from kafka import KafkaProducer

from accounts_common.config import LOCAL_KAFKA, LOCAL_POSTGRES
from accounts_common.events import Topic, dead_letter_topic, new_event
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    CODES,
    NEWSLETTER_DELIVERIES,
    TOPICS,
    delete_topics,
    ensure_topics,
)
from bench.chaos.infra import PrivateSink
from bench.support import BenchDatabases, cpu_seconds
from mailer.adapters.templates import Templates
from mailer.domain.messages import EVENT_ID_HEADER, Envelope, build_message
from mailer.settings import Settings
from tests.e2e.mail_helpers import code_issued
from tests.support.inbox import Inbox
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, run_once

RUN_ID = uuid.uuid4().hex[:8]
LOG_DIR = Path(tempfile.mkdtemp(prefix="bench-mailer-"))
CONSUMED = (CODES, ACCOUNT_EVENTS, NEWSLETTER_DELIVERIES)


SINK_MESSAGES = 100_000  # every email of a run stays listed


def received(inbox: Inbox) -> int:
    """How many emails the sink has relayed to Mailpit since it started."""
    return inbox.fault_stats()["relayed"]


def sink_cpu_seconds(sink: PrivateSink) -> float:
    """CPU time of the sink's processes so far: the fault handler and Mailpit."""
    return sum(cpu_seconds(pid) for pid in sink.pids)


def first_arrival_after(inbox: Inbox, count: int, *, timeout: float, what: str, interval: float) -> float:
    """The time (`time.perf_counter()`) at which the sink is first seen with more than `count` emails."""
    return wait_for(
        lambda: received(inbox) > count and time.perf_counter(), timeout=timeout, what=what, interval=interval
    )


def publish_code_events(kafka: str, topic: str, recipient: str, count: int) -> set[str]:
    """`count` CodeIssued events on `topic`, spread over its partitions; their ids."""
    producer = KafkaProducer(bootstrap_servers=kafka, linger_ms=20, batch_size=256 * 1024)
    ids = set()
    for n in range(count):
        data = code_issued(recipient, f"{n % 1_000_000:06d}")
        event = new_event("CodeIssued", source="/identity", subject=data["account_id"], data=data)
        value = event.to_json().encode()
        producer.send(topic, key=event.subject.encode(), value=value, headers=event.content_headers())
        ids.add(event.id)
    producer.flush(60)
    producer.close()
    return ids


def measure_workers(
    workers: int, env: dict[str, str], log_dir: Path, inbox: Inbox, count: int
) -> tuple[float, float]:
    """Start `workers` workers on the pre-published events: emails/s from the first email to the
    count-th, and the CPU seconds the workers used meanwhile."""
    processes = [
        ServiceProcess(
            f"mailer-worker-{n}",
            ["mailer", "worker"],
            env | {"MAILER_WORKER_METRICS_PORT": str(free_port())},
            log_dir,
        )
        for n in range(workers)
    ]
    baseline = received(inbox)

    def workers_cpu() -> float:
        return sum(cpu_seconds(process.process.pid) for process in processes if process.process)

    try:
        for process in processes:
            process.start()
        first = first_arrival_after(inbox, baseline, timeout=60, what="the first email", interval=0.005)
        cpu_at_first = workers_cpu()  # what starting cost (imports, connections) is left out
        wait_for(lambda: received(inbox) >= baseline + count, timeout=600, what="every email", interval=0.01)
        last = time.perf_counter()
        cpu = workers_cpu() - cpu_at_first
    finally:
        for process in processes:
            process.stop()
    return (count - 1) / (last - first), cpu


def missing_and_duplicates(inbox: Inbox, recipient: str, ids: set[str]) -> tuple[int, int]:
    """(events without an email, emails beyond the first per event), counted by X-Accounts-Event-Id."""
    per_event = collections.Counter(
        message["headers"].get(EVENT_ID_HEADER) for message in inbox.messages(to=recipient)
    )
    duplicates = sum(n - 1 for event_id, n in per_event.items() if event_id in ids)
    return len(ids - set(per_event)), duplicates


def measure_bare_smtplib(sink: PrivateSink, count: int) -> tuple[float, float, float]:
    """The same kind of emails, composed beforehand, sent by a bare loop over one connection:
    emails/s, and the loop's and the sink's CPU seconds."""
    settings = Settings("", "")
    templates = Templates(settings.language)
    envelope = Envelope(settings.mail_from, settings.reply_to)
    recipient = f"bare-{RUN_ID}@bench.example.org"
    context = {"product_name": settings.product_name, "portal_url": settings.portal_url, "minutes": 30}
    payloads = [
        build_message(
            envelope,
            recipient,
            templates.render("code", context | {"code": f"{n:06d}", "purpose": "verification"}),
            event_id=str(uuid.uuid4()),
        ).raw
        for n in range(count)
    ]
    started, cpu_started, sink_started = (
        time.perf_counter(),
        time.process_time(),
        sink_cpu_seconds(sink),
    )
    with smtplib.SMTP("127.0.0.1", sink.smtp_port) as smtp:
        for payload in payloads:
            smtp.sendmail("no-reply@multimedia.localhost", [recipient], payload)
    rate = count / (time.perf_counter() - started)
    return rate, time.process_time() - cpu_started, sink_cpu_seconds(sink) - sink_started


@dataclass
class WorkersRun:
    workers: int
    rate: float
    worker_cpu: float  # seconds, all workers
    sink_cpu: float
    missing: int
    duplicates: int


@contextmanager
def private_mailer_topics(kafka: str, prefix: str, group: str) -> Iterator[None]:
    """Fresh prefixed copies of the topics the mailer reads, and the group's dead-letter topic,
    deleted afterwards: other consumers of the shared cluster see none of the run's events."""
    topics = [Topic(prefix + topic.name, topic.partitions) for topic in TOPICS if topic.name in CONSUMED]
    topics.append(Topic(dead_letter_topic(group), partitions=1))
    ensure_topics(kafka, tuple(topics))
    try:
        yield
    finally:
        delete_topics(kafka, [topic.name for topic in topics])


def run_workers(
    workers: int, count: int, kafka: str, databases: BenchDatabases, sink: PrivateSink, round_number: int
) -> WorkersRun:
    """`count` emails through `workers` workers on topics, a consumer group and a database of their own."""
    run = f"{RUN_ID}-{round_number}-{workers}"
    prefix, group = f"bench-{run}.", f"mailer-bench-{run}"
    recipient = f"throughput-{run}@bench.example.org"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MAILER_DATABASE_URL": databases.create(f"mailer_{round_number}_{workers}"),
        "MAILER_CONSUMER_GROUP": group,
        "MAILER_TOPIC_PREFIX": prefix,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.smtp_port),
        "LOG_LEVEL": "WARNING",
    }
    if "MAILER_SMTP_CONNECTIONS" in os.environ:
        env["MAILER_SMTP_CONNECTIONS"] = os.environ["MAILER_SMTP_CONNECTIONS"]
    with private_mailer_topics(kafka, prefix, group):
        run_once(["mailer", "migrate"], env)
        ids = publish_code_events(kafka, prefix + CODES, recipient, count)
        sink_cpu = sink_cpu_seconds(sink)
        rate, worker_cpu = measure_workers(workers, env, LOG_DIR, sink.inbox, count)
        sink_cpu = sink_cpu_seconds(sink) - sink_cpu
    return WorkersRun(
        workers, rate, worker_cpu, sink_cpu, *missing_and_duplicates(sink.inbox, recipient, ids)
    )


@dataclass
class BareRun:
    rate: float
    cpu: float
    sink_cpu: float


def run_round(
    count: int, kafka: str, databases: BenchDatabases, sink: PrivateSink, number: int
) -> tuple[BareRun, list[WorkersRun]]:
    """The bare loop, then 1 and 2 workers, back to back on the same sink."""
    bare = BareRun(*measure_bare_smtplib(sink, count))
    return bare, [run_workers(workers, count, kafka, databases, sink, number) for workers in (1, 2)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=3000, help="emails per run (default 3000)")
    parser.add_argument("rounds", nargs="?", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    count, rounds = args.count, args.rounds
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    server = os.environ.get("DATABASE_URL", f"{LOCAL_POSTGRES}/postgres")
    databases = BenchDatabases(server)
    sink = PrivateSink(LOG_DIR, max_messages=SINK_MESSAGES)
    sink.start()
    results = []
    try:
        for number in range(1, rounds + 1):
            bare, runs = run_round(count, kafka, databases, sink, number)
            results.append((bare, runs))
            ratios = "  ".join(
                f"{run.workers} worker(s) {run.rate:6.1f}/s = {run.rate / bare.rate:4.2f}×" for run in runs
            )
            print(f"round {number}: bare {bare.rate:6.1f}/s  {ratios}", flush=True)
    finally:
        sink.stop()
        databases.drop_all()
    report(count, results)


def report(count: int, results: list[tuple[BareRun, list[WorkersRun]]]) -> None:
    """Medians over the rounds; a ratio is each round's, against the bare loop of the same round."""
    connections = os.environ.get("MAILER_SMTP_CONNECTIONS") or str(Settings("", "").smtp_connections)
    bares = [bare for bare, _ in results]
    print(
        f"{count} emails, {len(results)} round(s), medians; CPU per email: the sender's, then the sink's; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"bare smtplib     : {median(bare.rate for bare in bares):7.1f} emails/s                       "
        f"{per_email_ms(median(bare.cpu for bare in bares), count)} + "
        f"{per_email_ms(median(bare.sink_cpu for bare in bares), count)}  "
        "(one connection, the emails composed beforehand)"
    )
    for index, workers in enumerate((1, 2)):
        runs = [round_runs[index] for _, round_runs in results]
        ratios = sorted(run.rate / bare.rate for run, bare in zip(runs, bares, strict=True))
        worker_cpu = per_email_ms(median(run.worker_cpu for run in runs), count)
        print(
            f"mailer, {workers} worker{'s' if workers > 1 else ' '}: "
            f"{median(run.rate for run in runs):7.1f} emails/s  ratio {median(ratios):4.2f} "
            f"({ratios[0]:4.2f}–{ratios[-1]:4.2f})  {worker_cpu} + "
            f"{per_email_ms(median(run.sink_cpu for run in runs), count)}  ({connections} SMTP connections "
            f"per worker, {sum(run.duplicates for run in runs)} duplicate(s), "
            f"{sum(run.missing for run in runs)} missing)"
        )
    print(f"logs             : {LOG_DIR}  (issue #12: one worker ≥ 1.0× the bare loop)")


def per_email_ms(seconds: float, count: int) -> str:
    return f"{seconds * 1000 / count:5.3f} ms"


if __name__ == "__main__":
    main()
