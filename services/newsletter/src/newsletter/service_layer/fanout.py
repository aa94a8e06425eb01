"""The fan-out worker: one NewsletterDeliveryRequested per subscriber of each issue, resumable.

Why not the outbox: an issue to 10,000 subscribers would be 10,000 rows written, read back and
marked one by one. Instead the worker reads subscribers in keyset-paginated batches (id order),
produces a batch with the idempotent producer, waits for Kafka's acknowledgements, and only then
records the batch's last subscriber id as the issue's high-water mark. A worker killed mid-batch
resumes after the last recorded mark: no subscriber is skipped, and the records of the replayed
batch that had already reached Kafka come again with the same event id (derived from the issue and
the account), which the mailer's delivery log turns into one email.

It is the scheduler too: a scheduled issue whose time has come is started (status sending, its
recipients counted) in one conditional update, so a cancel racing it either wins or finds it gone,
and a restarted worker finds the issue sending and resumes it: nothing is sent twice. It starts one
only once the account events from before it are handled (due_issues).
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter

from accounts_common.events import CloudEvent
from accounts_common.events.topics import NEWSLETTER_DELIVERIES
from accounts_common.kafka import create_producer
from accounts_common.leader import LeadingProducer
from newsletter.adapters import repository
from newsletter.adapters.group_progress import GroupProgress
from newsletter.bootstrap import Newsletter
from newsletter.domain.content import Rendered
from newsletter.domain.issues import (
    Issue,
    Recipient,
    delivery_id,
    delivery_request,
    mail_for,
    unsubscribe_url,
)
from newsletter.domain.unsubscribe import unsubscribe_token
from newsletter.service_layer.due_issues import DueIssueGate
from newsletter.service_layer.issues import start_scheduled

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "newsletter_issues"
FANOUT_LOCK_KEY = 0x6E6C666F  # one worker fans out at a time; the others stand by
SEND_TIMEOUT_S = 30.0
# A delivery request carries its mail (text and HTML, about 4 KiB): Kafka's default 16 KiB batch holds
# four, and the fan-out went out as hundreds of small requests (2,100-2,400 records/s against 7,600-8,600
# with 1 MiB batches, measured). Under the producer's request cap, MAX_RECORD_BYTES.
PRODUCER_BATCH_BYTES = 900_000
HEADERS = CloudEvent.content_headers()

REQUESTED = Counter("newsletter_delivery_requests_total", "Delivery requests acknowledged by Kafka")
FAILURES = Counter("newsletter_fanout_failures_total", "Fan-out batches that failed and will be retried")


class FanOutWorker(LeadingProducer):
    """Fans out unfinished issues, oldest first, waking on NOTIFY and polling as a fallback."""

    lock_key = FANOUT_LOCK_KEY
    failures = FAILURES

    def __init__(
        self,
        newsletter: Newsletter,
        bootstrap_servers: str,
        *,
        portal_url: str,
        unsubscribe_key: bytes,
        account_events: GroupProgress,
        topic: str = NEWSLETTER_DELIVERIES,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        super().__init__(
            newsletter.settings.database_url,
            bootstrap_servers,
            client_id="newsletter-fanout",
            poll_interval=poll_interval,
            producer_factory=producer_factory,
        )
        self.newsletter = newsletter
        self.portal_url = portal_url
        self.unsubscribe_key = unsubscribe_key
        self.due_issues = DueIssueGate(account_events)
        self.topic = topic
        self.batch_size = batch_size

    def producer_options(self) -> dict[str, Any]:
        return {"batch_size": PRODUCER_BATCH_BYTES}

    def serve(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        try:
            while not stop.is_set():
                issue = repository.next_due_issue(conn)
                if issue is not None and issue.status == "scheduled":
                    issue = self.start_when_clear(conn, issue)
                else:
                    self.due_issues.nothing_due()
                if issue is None:
                    for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                        pass
                    continue
                self.fan_out(conn, issue, stop)
        finally:
            self.due_issues.close()

    def start_when_clear(self, conn: psycopg.Connection, issue: Issue) -> Issue | None:
        """Start a due issue, once nothing the worker has yet to handle could hold it."""
        if not self.due_issues.clear(issue):
            return None
        with conn.transaction():
            return start_scheduled(self.newsletter, conn, issue)

    def fan_out(self, conn: psycopg.Connection, issue: Issue, stop: threading.Event) -> None:
        """Request the issue's remaining deliveries batch by batch, each subscriber in their language,
        then mark it sent."""
        log.info(
            "fanning out issue %s from subscriber %d (%d requested)",
            issue.id,
            issue.high_water,
            issue.requested,
        )
        high_water = issue.high_water
        mails = issue.rendered(self.portal_url)
        while not stop.is_set():
            recipients = repository.next_recipients(conn, issue, high_water, self.batch_size)
            if not recipients:
                repository.complete_issue(conn, issue.id)
                log.info("issue %s fanned out", issue.id)
                return
            high_water = recipients[-1].subscriber_id
            with conn.transaction():
                deliveries = [(delivery_id(issue.id, r.account_id), r.account_id) for r in recipients]
                still = repository.add_recipients(conn, issue.id, deliveries)
            recipients = [recipient for recipient in recipients if recipient.account_id in still]
            self._produce(issue, mails, recipients, [delivery_id(issue.id, r.account_id) for r in recipients])
            repository.record_progress(conn, issue.id, high_water, len(recipients))
            REQUESTED.inc(len(recipients))

    def _produce(
        self, issue: Issue, mails: dict[str, Rendered], recipients: list[Recipient], deliveries: list[UUID]
    ) -> None:
        """Send the batch (each recipient's record with its delivery id) and wait until Kafka
        acknowledged every record of it."""
        producer = self.producer()
        time = datetime.now(UTC).isoformat()
        futures = []
        for recipient, delivery in zip(recipients, deliveries, strict=True):
            token = unsubscribe_token(self.unsubscribe_key, recipient.account_id)
            link = unsubscribe_url(self.portal_url, token, recipient)
            event = delivery_request(issue.id, mail_for(mails, recipient), recipient, link, time, delivery)
            futures.append(
                producer.send(
                    self.topic, key=event.subject.encode(), value=event.to_json().encode(), headers=HEADERS
                )
            )
        producer.flush(timeout=SEND_TIMEOUT_S)
        for future in futures:
            if not future.succeeded():
                failure = future.exception
                raise failure if isinstance(failure, KafkaError) else KafkaError(str(failure))
