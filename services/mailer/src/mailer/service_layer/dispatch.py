"""Sending a batch's emails over several SMTP connections at once, each email once.

The consumer's handlers submit the emails of a polled batch; `finish_batch` then claims them all
in one statement (each claim committed before its email can go out) and sends them on parallel
lanes, one per SMTP connection; the emails of one account take the same lane, in their order.
Meanwhile the batch's thread marks the accepted emails sent, all those accepted since its last
mark in one statement (a group commit), on the connection that made the claims: a connection
broken since its last use (the database restarted) fails at the claim, before any email goes out.
The window for a duplicate: an email accepted by the server and not yet marked when the worker
or its database dies, at most UNMARKED_PER_LANE per lane (`duplicate_window`); once a mark
fails, the lanes send nothing more of the batch.
"""

import collections
import queue
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common.consumer import PermanentError, TransientError
from mailer import metrics
from mailer.adapters import deliveries
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.messages import OutgoingEmail

# A lane sends its next email while the one before is being marked, never further ahead.
UNMARKED_PER_LANE = 2


class Sender(Protocol):
    def send(self, email: OutgoingEmail) -> None: ...

    def close(self) -> None: ...


@dataclass
class PendingEmail:
    """An email asked for by an event, composed only once it is claimed."""

    event_id: str
    kind: str
    account_id: UUID | None
    recipient: str
    locale: str | None
    compose: Callable[[], OutgoingEmail]  # raises PermanentError when it cannot be composed
    future: Future[None] = field(default_factory=Future)


class Dispatcher:
    """Claims, sends and marks the emails submitted since the last batch; one lane per sender."""

    def __init__(
        self,
        pool: ConnectionPool,
        senders: Sequence[Sender],
        delivery_log: DeliveryLog,
        rate_limit: TokenBucket,
    ) -> None:
        if not senders:
            raise ValueError("the dispatcher needs at least one SMTP connection")
        self.pool = pool
        self.senders = list(senders)
        self.delivery_log = delivery_log
        self.rate_limit = rate_limit
        self._lanes = [
            ThreadPoolExecutor(1, thread_name_prefix=f"smtp-lane-{n}") for n in range(len(senders))
        ]
        self._pending: list[PendingEmail] = []
        self._reports: queue.SimpleQueue[tuple[PendingEmail, str | None]] = queue.SimpleQueue()
        self._marking_failed = threading.Event()

    def submit(self, email: PendingEmail) -> Future[None]:
        """Send `email` with the rest of the batch; its Future ends when it is sent or has failed."""
        self._pending.append(email)
        return email.future

    def finish_batch(self) -> None:
        """Claim, send and mark every email submitted since the last call; return when all are over."""
        emails, self._pending = self._pending, []
        unique = _first_per_event(emails)
        if unique:
            try:
                with self.pool.connection() as conn:
                    to_send = self._claim(conn, unique)
                    self._start_lanes(to_send)
                    self._mark_until_done(conn, len(to_send))
            except Exception as error:  # noqa: BLE001 - each email's outcome is its event's to settle
                _fail_unfinished(unique, error)
        wait([email.future for email in emails])

    def close(self) -> None:
        """Stop the lanes and say QUIT on every connection."""
        for lane in self._lanes:
            lane.shutdown(wait=True)
        for sender in self.senders:
            sender.close()

    def _claim(self, conn: psycopg.Connection, emails: list[PendingEmail]) -> list[PendingEmail]:
        """The emails to send now; the others (sent or skipped already, erased) are done.

        The erased accounts are read after the claims are committed, so an erasure running
        meanwhile cannot be missed (see deliveries.erase_account).
        """
        claimed = deliveries.claim(conn, emails)
        erased = deliveries.erased_among(conn, {email.account_id for email in emails if email.account_id})
        to_send = []
        for email in emails:
            if email.account_id in erased:
                self._skip_erased(email)
            elif email.event_id not in claimed:
                email.future.set_result(None)
            else:
                to_send.append(email)
        return to_send

    def _skip_erased(self, email: PendingEmail) -> None:
        """The account was deleted meanwhile: record the email as skipped, without its address."""
        self.delivery_log.skip(email.event_id, email.kind, None, None, "the account was deleted")
        metrics.SKIPPED.labels(email.kind).inc()
        email.future.set_result(None)

    def _start_lanes(self, emails: list[PendingEmail]) -> None:
        self._marking_failed.clear()
        slices: list[list[PendingEmail]] = [[] for _ in self.senders]
        for email in emails:
            slices[_lane_of(email, len(slices))].append(email)
        for lane, sender, emails_of_lane in zip(self._lanes, self.senders, slices, strict=True):
            if emails_of_lane:
                lane.submit(self._send_lane, sender, emails_of_lane)

    def _mark_until_done(self, conn: psycopg.Connection, count: int) -> None:
        """Mark sent, in one statement each time, the emails the lanes report accepted, until all
        `count` emails are reported; after a failed mark, the lanes stop sending."""
        while count:
            reports = [self._reports.get()]
            while True:
                try:
                    reports.append(self._reports.get_nowait())
                except queue.Empty:
                    break
            count -= len(reports)
            accepted = [(email, message_id) for email, message_id in reports if message_id is not None]
            if accepted:
                self._mark(conn, accepted)

    def _mark(self, conn: psycopg.Connection, accepted: list[tuple[PendingEmail, str]]) -> None:
        try:
            deliveries.mark_sent(conn, [(email.event_id, message_id) for email, message_id in accepted])
        except Exception as error:  # noqa: BLE001 - see finish_batch
            self._marking_failed.set()
            for email, _ in accepted:
                email.future.set_exception(error)
            return
        for email, _ in accepted:
            metrics.SENT.labels(email.kind).inc()
            email.future.set_result(None)

    def _send_lane(self, sender: Sender, emails: list[PendingEmail]) -> None:
        """Send one lane's emails in order; each is reported (its Message-ID once accepted, else None).

        A lane has at most UNMARKED_PER_LANE emails accepted and not yet marked: the bound of the
        duplicate window.
        """
        unmarked: collections.deque[PendingEmail] = collections.deque()
        for email in emails:
            while len(unmarked) >= UNMARKED_PER_LANE:
                wait([unmarked.popleft().future])
            message_id = None
            try:
                if self._marking_failed.is_set():
                    raise TransientError("not sent: marking the batch's emails sent failed")
                message_id = self._send_one(sender, email)
            except Exception as error:  # noqa: BLE001 - see finish_batch
                if not email.future.done():
                    email.future.set_exception(error)
            finally:
                self._reports.put((email, message_id))
            if message_id is not None:
                unmarked.append(email)

    def _send_one(self, sender: Sender, email: PendingEmail) -> str | None:
        """Compose and send one email: its Message-ID once the server accepted it, None after a
        failure (recorded, and its Future ended with it)."""
        try:
            message = email.compose()
            self.rate_limit.acquire()
            started = time.perf_counter()
            sender.send(message)
        except (TransientError, PermanentError) as error:
            self._failed(email, error)
            return None
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        return message.message_id

    def _failed(self, email: PendingEmail, error: TransientError | PermanentError) -> None:
        """Record the failure for operators (it outlives the retry), then end the Future with it."""
        permanent = isinstance(error, PermanentError)
        try:
            self.delivery_log.mark_failed(email.event_id, str(error), permanent=permanent)
        finally:
            (metrics.FAILED if permanent else metrics.RETRIED).labels(email.kind).inc()
            email.future.set_exception(error)


def _fail_unfinished(emails: list[PendingEmail], error: Exception) -> None:
    for email in emails:
        if not email.future.done():
            email.future.set_exception(error)


def duplicate_window(smtp_connections: int) -> int:
    """The most emails a worker with this many lanes can send again after it dies (or its
    database does): those accepted and not yet marked sent."""
    return UNMARKED_PER_LANE * smtp_connections


def _lane_of(email: PendingEmail, lanes: int) -> int:
    """One account's emails (a recipient's, for emails without an account) share a lane: they go
    out in their order, as they came on their partition."""
    return zlib.crc32(str(email.account_id or email.recipient).encode()) % lanes


def _first_per_event(emails: list[PendingEmail]) -> list[PendingEmail]:
    """One email per event: an event the relay published twice is claimed and sent once, the copy
    done at once (should the first fail, its partition is retried from the first, copy included)."""
    first: dict[str, PendingEmail] = {}
    for email in emails:
        if email.event_id in first:
            email.future.set_result(None)
        else:
            first[email.event_id] = email
    return list(first.values())
