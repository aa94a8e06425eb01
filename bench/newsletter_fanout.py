"""An issue to 10,000 subscribers: the fan-out rate onto Kafka, and the time until every mail is in a sink.

DESIGN §7: an issue to 10,000 subscribers fully in the sink within 60 s, each once; the issue asks
the fan-out for ≥ 5,000 delivery requests/s. The newsletter (web + worker) and the mailer workers
(as many as `make run` starts: two; `[WORKERS]` to try others) run as processes on private copies of
the topics, sending into a private SMTP sink. Figures:
- fan-out: delivery requests acknowledged by Kafka per second, from the issue's publication to its
  completion (the issue row's timestamps);
- mailer: emails/s into the sink from the first to the last (by the sink's clock: the mailers send
  while the fan-out runs); end to end: publication → last email;
- duplicates: emails in the sink beyond the deliveries the mailer's log records as sent (one row per
  delivery id); missing: subscribers without a sent delivery.
- languages: every third subscriber reads French; the issue's English and French bodies differ, and
  each mail in the sink is checked, by its subject, against its reader's language (after the clock
  stopped).
The slower of fan-out and mailer is the ceiling. Run: `make bench BENCH=newsletter_fanout`
(or `.venv/bin/python -m bench.newsletter_fanout [SUBSCRIBERS] [WORKERS]` with the infrastructure up).
"""

import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from accounts_common.config import LOCAL_KAFKA, LOCAL_POSTGRES
from accounts_common.events import Topic, dead_letter_topic
from accounts_common.events.topics import NEWSLETTER_DELIVERIES, TOPICS, delete_topics, ensure_topics
from bench.chaos.infra import PrivateSink
from bench.mailer_throughput import CONSUMED, SINK_MESSAGES
from bench.support import RUN_ID, BenchDatabases, arrived_at
from tests.support.newsletter import seed_subscribers, send_issue
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, http_ok, run_once
from tests.support.staff import PrivateIdentity


def start_group_at_the_end(bootstrap_servers: str, group: str, topics: tuple[str, ...]) -> None:
    """Commit the group's offsets at the topics' ends: a new group reads only what comes next (the
    mailers skip the records of the fan-out-alone phase)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()
        ]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in ends.items()})
    finally:
        consumer.close(autocommit=False)


def fan_out_seconds(database_url: str, issue_id: str) -> float | None:
    """From the issue's publication to the end of its fan-out, once it ended."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM completed_at - started_at) FROM issues WHERE id = %s", (issue_id,)
        ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def newsletters_sent(mailer_database_url: str) -> int:
    """Deliveries the mailer's log records as sent (one row per delivery id)."""
    with psycopg.connect(mailer_database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM deliveries WHERE kind = 'newsletter' AND status = 'sent'"
        ).fetchone()
    return int(row[0]) if row else 0


BODIES = {
    "en": "New videos: [this week](https://portal.example.org/videos).\n\n" * 20,
    "fr": "Nouvelles vidéos : [cette semaine](https://portal.example.org/videos).\n\n" * 20,
}


def publish(port: int, subject: str, editor: dict[str, str]) -> str:
    """Write an issue in both languages and send it now, as a newsletter editor; its id."""
    draft = {"subject": {"en": subject, "fr": f"{subject} (fr)"}, "body": BODIES}
    return str(send_issue(f"http://127.0.0.1:{port}", editor, draft)["id"])


def readers_languages(database_url: str) -> dict[str, str]:
    """Each subscriber's address and the language their issue is written in (English by default)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT lower(a.email), coalesce(a.locale, 'en') FROM known_accounts a
               JOIN subscribers s USING (account_id)"""
        ).fetchall()
    return dict(rows)


def language_of(received_subject: str, subject: str) -> str:
    """The language an issue's mail is in, by its subject (each language has its own); "?" otherwise."""
    return {subject: "en", f"{subject} (fr)": "fr"}.get(received_subject, "?")


def languages_received(
    summaries: list[dict[str, Any]], subject: str, expected: dict[str, str]
) -> tuple[Counter[str], int]:
    """The issue's mails in the sink by language, and how many are not in their reader's language."""
    mails = [(mail["to"][0].lower(), language_of(mail["subject"], subject)) for mail in summaries]
    mails = [(reader, language) for reader, language in mails if reader in expected]
    wrong = sum(language != expected[reader] for reader, language in mails)
    return Counter(language for _, language in mails), wrong


def mail_rate(summaries: list[dict[str, Any]]) -> float:
    """Mails per second into the sink, from the first to the last, by the times the sink took them."""
    arrivals = sorted(map(arrived_at, summaries))
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def wait_fanned_out(database_url: str, issue_id: str) -> float:
    """Seconds from the issue's publication to the end of its fan-out."""
    return wait_for(
        lambda: fan_out_seconds(database_url, issue_id), timeout=300, what="the fan-out", interval=0.05
    )


def reading_deliveries(metrics_url: str, topic: str) -> bool:
    """True once the mailer worker was assigned partitions of the deliveries topic (it reports their lag)."""
    return (
        http_ok(metrics_url)
        and f'topic="{topic}"' in urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    )


def main() -> None:
    subscribers = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    mailer_workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    server = os.environ.get("DATABASE_URL", f"{LOCAL_POSTGRES}/postgres")
    log_dir = Path(tempfile.mkdtemp(prefix="bench-newsletter-"))
    prefix = f"bench-{RUN_ID}."
    mailer_group, newsletter_group = f"mailer-bench-{RUN_ID}", f"newsletter-bench-{RUN_ID}"
    topics = [
        Topic(prefix + t.name, t.partitions, configs=t.configs) for t in TOPICS if not t.name.endswith(".dlq")
    ]
    topics += [Topic(dead_letter_topic(group), partitions=1) for group in (mailer_group, newsletter_group)]
    ensure_topics(kafka, tuple(topics))
    databases = BenchDatabases(server)
    sink = PrivateSink(log_dir, max_messages=SINK_MESSAGES, faults=False)  # Mailpit alone: no refusals here
    sink.start()
    smtp_port, inbox = sink.smtp_port, sink.inbox
    processes: list[ServiceProcess] = []
    port = free_port()
    try:
        common = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "LOG_LEVEL": "WARNING", "ACCOUNTS_ENV": "development"}
        identity = PrivateIdentity.start(kafka, databases.create("identity"), log_dir)
        processes.append(identity.process)
        editor = identity.staff_header("newsletter-editor")
        newsletter_db = databases.create("newsletter")
        newsletter_env = {
            **common,
            "NEWSLETTER_DATABASE_URL": newsletter_db,
            "NEWSLETTER_TOPIC_PREFIX": prefix,
            "NEWSLETTER_CONSUMER_GROUP": newsletter_group,
            "IDENTITY_JWKS_URL": f"{identity.url}/.well-known/jwks.json",
            "NEWSLETTER_WORKER_METRICS_PORT": "0",
        }
        mailer_env = {
            **common,
            "MAILER_DATABASE_URL": databases.create("mailer"),
            "MAILER_TOPIC_PREFIX": prefix,
            "MAILER_CONSUMER_GROUP": mailer_group,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
        }
        run_once(["newsletter", "migrate"], newsletter_env)
        run_once(["mailer", "migrate"], mailer_env)
        seed_subscribers(newsletter_db, subscribers)
        web = ServiceProcess(
            "newsletter-web", ["newsletter", "web", "--port", str(port)], newsletter_env, log_dir
        )
        processes += [
            web.start(),
            ServiceProcess("newsletter-worker", ["newsletter", "worker"], newsletter_env, log_dir).start(),
        ]
        web.wait_http(f"http://127.0.0.1:{port}/readyz")

        # 1. The fan-out alone: no mailer reads yet (its group starts after these records). The
        # first issue also pays for the producer's start (metadata, producer id); the second does not.
        cold = wait_fanned_out(newsletter_db, publish(port, "Fan-out alone, cold", editor))
        alone = wait_fanned_out(newsletter_db, publish(port, "Fan-out alone", editor))
        deliveries = prefix + NEWSLETTER_DELIVERIES
        start_group_at_the_end(kafka, mailer_group, tuple(prefix + name for name in CONSUMED))
        metrics_urls = [f"http://127.0.0.1:{free_port()}/metrics" for _ in range(mailer_workers)]
        for n, url in enumerate(metrics_urls):
            worker_env = {**mailer_env, "MAILER_WORKER_METRICS_PORT": url.split(":")[2].split("/")[0]}
            processes.append(
                ServiceProcess(f"mailer-worker-{n}", ["mailer", "worker"], worker_env, log_dir).start()
            )
        for url in metrics_urls:
            wait_for(
                lambda url=url: reading_deliveries(url, deliveries), timeout=60, what="the mailer workers"
            )

        # 2. End to end: fan-out and mailers at once, into the sink.
        started = time.perf_counter()
        together = wait_fanned_out(newsletter_db, publish(port, "Our latest updates", editor))
        wait_for(lambda: inbox.total() >= subscribers, timeout=600, what="every mail", interval=0.05)
        last = time.perf_counter()
        sent = wait_for(
            lambda: (n := newsletters_sent(mailer_env["MAILER_DATABASE_URL"])) >= subscribers and n,
            timeout=30,
            what="the mailer's log to record every mail",
        )
        duplicates, missing = inbox.total() - sent, subscribers - sent
        # Summaries only: reading 10,000 mails whole from Mailpit is 20,000 requests.
        summaries = inbox.summaries()
        languages, wrong_language = languages_received(
            summaries, "Our latest updates", readers_languages(newsletter_db)
        )
    finally:
        for process in processes:
            process.stop()
        sink.stop()
        databases.drop_all()
        delete_topics(kafka, [topic.name for topic in topics])
    mailer_rate = mail_rate(summaries)
    alone_rate = subscribers / alone
    print(f"fan-out alone : {alone_rate:8.0f} delivery requests/s  ({alone:.2f} s; aim ≥ 5,000/s)")
    print(f"first issue   : {subscribers / cold:8.0f} delivery requests/s  (including the producer's start)")
    print(f"fan-out + mail: {subscribers / together:8.0f} delivery requests/s  (while the mailer sends)")
    print(f"mailer        : {mailer_rate:8.0f} emails/s  ({mailer_workers} worker(s), first to last email)")
    print(
        f"end to end    : {last - started:8.1f} s  publication → last email in the sink  (DESIGN §7: ≤ 60 s)"
    )
    print(f"duplicates    : {duplicates:8d}   missing: {missing}")
    print(
        f"languages     : {languages['en']:8d} en + {languages['fr']} fr, "
        f"each in its reader's language (wrong: {wrong_language})"
    )
    ceiling = "the mailer (its SMTP connections and the sink)" if mailer_rate < alone_rate else "the fan-out"
    print(f"ceiling       : {ceiling}; listmonk sends 100 messages/s by default")
    print(f"load average  : {os.getloadavg()[0]:8.1f}   (2 cores shared: figures vary from run to run)")
    print(f"logs          : {log_dir}")


if __name__ == "__main__":
    main()
