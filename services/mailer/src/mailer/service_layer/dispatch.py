"""Sending a polled batch's emails over several SMTP connections at once, each email once.

The consumer's handlers submit the batch's emails one by one. They are claimed in chunks, each in
one statement (see FIRST_CLAIM), the rest at `finish_batch` (each claim committed before its email
can go out) and handed to the SMTP lanes (adapters/smtp_lanes.py) at once, so sending starts while
the handlers read the rest of the batch. Meanwhile the batch's marker thread marks the accepted
emails sent, all those accepted since its last mark in one statement (a group commit), on the
connection that made the batch's claims: a connection broken since its last use (the database
restarted) fails at the claim, before any email goes out. The window for a duplicate: an email
accepted by the server and not yet marked when the worker or its database dies, at most
UNMARKED_PER_LANE per lane (`duplicate_window`); once a mark fails, the lanes send nothing more of
the batch. An email whose SMTP reply never came after the whole message went out (OutcomeUnknown)
is marked sent, with that noted: sending it again could only add a duplicate.

The marker also renews the lease of the batch's claims (adapters/claims.py) every LEASE_S / 3, so
that another worker given the batch's partitions meanwhile (this one cut off from Kafka) leaves
their rows alone: those emails fail transient there, their partitions retried until they are sent.
"""

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common.retry_policy import PermanentError, TransientError
from mailer.adapters import claims, deliveries, suppressions
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.adapters.smtp import HardBounce, OutcomeUnknown
from mailer.adapters.smtp_lanes import UNMARKED_PER_LANE, Lanes, Sender
from mailer.domain.messages import OutgoingEmail
from mailer.service_layer import metrics

log = logging.getLogger(__name__)

NEWSLETTER = "newsletter"
# The first emails of a batch are claimed in one statement once this many are submitted, so the
# lanes start while the handlers go on; each later claim takes as many as were claimed before it,
# the lanes having that much work queued meanwhile (a batch of 500: 6 statements).
FIRST_CLAIM = 16
# A marker collects the lanes' reports this long before marking them sent in one statement: a
# lane sends for several milliseconds before it needs its previous email marked.
MARK_GATHER_S = 0.002
HELD = "being sent by another worker; tried again once it is sent or its claim lapses"


@dataclass(eq=False)
class PendingEmail:
    """An email asked for by an event, composed only once it is claimed."""

    event_id: str
    kind: str
    account_id: UUID | None
    recipient: str
    locale: str | None
    compose: Callable[[], OutgoingEmail]  # raises PermanentError when it cannot be composed
    future: Future[None] = field(default_factory=Future)
    batch: "Batch | None" = None  # once claimed
    unconfirmed: str | None = None  # why the server's acceptance is not known, for a mail sent

    @property
    def sender_key(self) -> str:
        """One account's emails (a recipient's, for emails without an account) go out in order."""
        return str(self.account_id or self.recipient)


# What a lane tells the marker of an email: its Message-ID once accepted, else None; at the end of
# a batch, how many emails it queued.
Report = tuple[PendingEmail, str | None] | int


@dataclass(eq=False)
class Batch:
    """The emails claimed since the consumer's last poll: their claims' connection, and what the
    lanes report of them."""

    conn: psycopg.Connection
    reports: "queue.SimpleQueue[Report]" = field(default_factory=queue.SimpleQueue)
    claimed: list[str] = field(default_factory=list)  # event ids, by the consumer's thread
    marking_failed: threading.Event = field(default_factory=threading.Event)
    queued: int = 0  # by the consumer's thread; the marker learns the total from the last report
    reported: int = 0  # by the marker
    expected: int | None = None

    def all_reported(self) -> bool:
        return self.expected is not None and self.reported >= self.expected

    def gather_accepted(self, until: float) -> list[tuple[PendingEmail, str]]:
        """The emails accepted, from the next report (waiting for it until `until`) to MARK_GATHER_S
        after it, or until every email of the batch is reported."""
        accepted = []
        deadline = None
        while not self.all_reported():
            report = _next_report(self.reports, deadline or until)
            if report is None:
                break
            deadline = deadline or time.monotonic() + MARK_GATHER_S
            if isinstance(report, int):
                self.expected = report
                continue
            self.reported += 1
            email, message_id = report
            if message_id is not None:
                accepted.append((email, message_id))
        return accepted


class Dispatcher:
    """Claims, sends and marks the emails submitted since the last batch; one lane per sender."""

    def __init__(
        self,
        pool: ConnectionPool,
        senders: Sequence[Sender],
        delivery_log: DeliveryLog,
        rate_limit: TokenBucket,
    ) -> None:
        self.pool = pool
        self.delivery_log = delivery_log
        self.rate_limit = rate_limit
        self.claimer = uuid.uuid4()  # its claims' holder: a batch of its own never waits for their leases
        self.lease_s = claims.LEASE_S
        self._submitted: list[PendingEmail] = []  # this batch's, copies included
        self._event_ids: set[str] = set()
        self._unclaimed: list[PendingEmail] = []
        self._batch: Batch | None = None
        self._lanes: Lanes[PendingEmail] = Lanes(senders, self._send_reported)
        self._to_mark: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._marker = threading.Thread(target=self._run_marker, name="mark-sent", daemon=True)
        self._marker.start()

    def submit(self, email: PendingEmail) -> Future[None]:
        """Send `email` with the rest of the batch; its Future ends when it is sent or has failed.

        An event the relay published twice is claimed and sent once, the copy done at once (should
        the first fail, its partition is retried from the first, copy included).
        """
        self._submitted.append(email)
        if email.event_id in self._event_ids:
            email.future.set_result(None)
        else:
            self._event_ids.add(email.event_id)
            self._unclaimed.append(email)
            if len(self._unclaimed) >= max(FIRST_CLAIM, self._batch.queued if self._batch else 0):
                self._claim_and_queue()
        return email.future

    def finish_batch(self) -> None:
        """Claim and queue the emails not claimed yet; return once every email of the batch is over."""
        self._claim_and_queue()
        self._end_batch()
        submitted, self._submitted, self._event_ids = self._submitted, [], set()
        wait([email.future for email in submitted])

    def _end_batch(self) -> None:
        """Tell the batch's marker how many emails it queued: it stops once they are all reported."""
        batch, self._batch = self._batch, None
        if batch is not None:
            batch.reports.put(batch.queued)

    def close(self) -> None:
        """Stop the lanes and the marker; say QUIT on every connection. A batch left unfinished (the
        consumer stopped on an error mid-batch) ends: what it claimed is sent, the rest fails."""
        _fail_unfinished(self._unclaimed, TransientError("not sent: the worker stopped"))
        self._end_batch()
        self._lanes.close()
        self._to_mark.put(None)
        self._marker.join()

    def _claim_and_queue(self) -> None:
        emails, self._unclaimed = self._unclaimed, []
        if not emails:
            return
        try:
            batch = self._current_batch()
            to_send = self._claim(batch.conn, emails)
        except Exception as error:  # noqa: BLE001 - each email's outcome is its event's to settle
            _fail_unfinished(emails, error)
            return
        batch.queued += len(to_send)
        batch.claimed.extend(email.event_id for email in to_send)
        for email in to_send:
            email.batch = batch
            self._lanes.queue(email)

    def _current_batch(self) -> Batch:
        """The batch being claimed; its first claim takes a connection that its marker gives back."""
        if self._batch is None:
            self._batch = Batch(self.pool.getconn())
            self._to_mark.put(self._batch)
        return self._batch

    def _claim(self, conn: psycopg.Connection, emails: list[PendingEmail]) -> list[PendingEmail]:
        """The emails to send now; the others (sent or skipped already, erased) are done, but for
        those held by another worker's claim, which fail transient.

        The erased accounts are read after the claims are committed, so an erasure running
        meanwhile cannot be missed (see deliveries.erase_account).
        """
        taken = claims.claim(conn, emails, self.claimer, self.lease_s)
        erased = deliveries.erased_among(conn, {email.account_id for email in emails if email.account_id})
        newsletters = {email.recipient for email in emails if email.kind == NEWSLETTER}
        suppressed = suppressions.suppressed_among(conn, newsletters) if newsletters else set()
        to_send = []
        for email in emails:
            if email.account_id in erased:
                self._skip_erased(email)
            elif email.event_id in taken.held:
                email.future.set_exception(TransientError(HELD))
            elif email.event_id not in taken.claimed:
                email.future.set_result(None)
            elif email.kind == NEWSLETTER and email.recipient in suppressed:
                self._skip_suppressed(email)
            else:
                to_send.append(email)
        return to_send

    def _skip_suppressed(self, email: PendingEmail) -> None:
        """A newsletter to an address that bounced for good: not tried again."""
        self.delivery_log.skip_suppressed(email)
        metrics.SKIPPED.labels(email.kind).inc()
        email.future.set_result(None)

    def _skip_erased(self, email: PendingEmail) -> None:
        """The account was deleted meanwhile: record the email as skipped, without its address."""
        self.delivery_log.skip(email.event_id, email.kind, None, None, "the account was deleted")
        metrics.SKIPPED.labels(email.kind).inc()
        email.future.set_result(None)

    def _send_reported(self, sender: Sender, email: PendingEmail) -> bool:
        """Send the email and report it to its batch's marker (its Message-ID once accepted, else
        None); True once the server accepted it."""
        assert email.batch is not None
        message_id = None
        try:
            if email.batch.marking_failed.is_set():
                raise TransientError("not sent: marking the batch's emails sent failed")
            message_id = self._send_one(sender, email)
        except Exception as error:  # noqa: BLE001 - see _claim_and_queue
            if not email.future.done():
                email.future.set_exception(error)
        finally:
            email.batch.reports.put((email, message_id))
        return message_id is not None

    def _send_one(self, sender: Sender, email: PendingEmail) -> str | None:
        """Compose and send one email: its Message-ID once the server accepted it, None after a
        failure (recorded, and its Future ended with it)."""
        try:
            message = email.compose()
            self.rate_limit.acquire()
            started = time.perf_counter()
            sender.send(message)
        except OutcomeUnknown as unconfirmed:
            # Counted as sent: sent again, it could arrive twice (see the module's duplicate window).
            log.warning("%s email %s: %s", email.kind, email.event_id, unconfirmed)
            email.unconfirmed = str(unconfirmed)
            return message.message_id
        except (TransientError, PermanentError) as error:
            self._failed(email, error)
            return None
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        return message.message_id

    def _failed(self, email: PendingEmail, error: TransientError | PermanentError) -> None:
        """Record the failure for operators (it outlives the retry), then end the Future with it."""
        permanent = isinstance(error, PermanentError)
        try:
            self.delivery_log.mark_failed(
                email.event_id, str(error), permanent=permanent, hard=isinstance(error, HardBounce)
            )
        finally:
            (metrics.FAILED if permanent else metrics.RETRIED).labels(email.kind).inc()
            email.future.set_exception(error)

    def _run_marker(self) -> None:
        while (batch := self._to_mark.get()) is not None:
            self._mark_batch(batch)

    def _mark_batch(self, batch: Batch) -> None:
        """Mark sent, one statement each time, the emails the lanes report accepted, until all the
        batch's emails are reported, renewing the lease of its claims meanwhile; then give the
        batch's connection back."""
        renew_at = time.monotonic() + self.lease_s / 3
        try:
            while not batch.all_reported():
                accepted = batch.gather_accepted(renew_at)
                if accepted:
                    self._mark(batch, accepted)
                if time.monotonic() >= renew_at:
                    self._renew(batch)
                    renew_at = time.monotonic() + self.lease_s / 3
        finally:
            self.pool.putconn(batch.conn)

    def _renew(self, batch: Batch) -> None:
        """Hold the batch's rows not marked yet a lease longer; should that fail (the connection
        broke: the marks would fail too) the lanes send nothing more, as after a failed mark."""
        try:
            claims.renew(batch.conn, list(batch.claimed), self.claimer, self.lease_s)
        except Exception:  # noqa: BLE001 - the batch's emails end with it, see _send_reported
            log.warning("renewing the claims of a batch failed", exc_info=True)
            batch.marking_failed.set()

    def _mark(self, batch: Batch, accepted: list[tuple[PendingEmail, str]]) -> None:
        try:
            deliveries.mark_sent(
                batch.conn,
                [(email.event_id, message_id) for email, message_id in accepted],
                self.delivery_log.results_topic,
                newsletters=any(email.kind == NEWSLETTER for email, _ in accepted),
                notes={email.event_id: email.unconfirmed for email, _ in accepted if email.unconfirmed},
            )
        except Exception as error:  # noqa: BLE001 - see _claim_and_queue
            batch.marking_failed.set()
            for email, _ in accepted:
                email.future.set_exception(error)
            return
        for email, _ in accepted:
            metrics.SENT.labels(email.kind).inc()
            email.future.set_result(None)


def _next_report(reports: "queue.SimpleQueue[Report]", deadline: float | None) -> Report | None:
    """The next report, waiting for it until `deadline` (None: as long as it takes); None at the deadline."""
    try:
        return reports.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        return None


def _fail_unfinished(emails: list[PendingEmail], error: Exception) -> None:
    for email in emails:
        if not email.future.done():
            email.future.set_exception(error)


def duplicate_window(smtp_connections: int) -> int:
    """The most emails a worker with this many lanes can send again after it dies (or its
    database does): those accepted and not yet marked sent."""
    return UNMARKED_PER_LANE * smtp_connections
