"""Sending a batch's emails over several SMTP connections at once, each email once.

The consumer's handlers submit the emails of a polled batch; `finish_batch` then claims them all
in one statement (each claim committed before its email can go out), and sends them on parallel
lanes, one per SMTP connection. The emails of one recipient take the same lane, in their order.
A lane marks each email sent as soon as the server accepted it, on the connection it checked
before its first email: the window for a duplicate stays one email per lane (accepted, then a
crash before its mark), and a lane whose mark fails sends nothing more of the batch.
"""

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

    def submit(self, email: PendingEmail) -> Future[None]:
        """Send `email` with the rest of the batch; its Future ends when it is sent or has failed."""
        self._pending.append(email)
        return email.future

    def finish_batch(self) -> None:
        """Claim, send and mark every email submitted since the last call; return when all are over."""
        emails, self._pending = self._pending, []
        to_send = self._claim(_first_per_event(emails))
        slices: list[list[PendingEmail]] = [[] for _ in self.senders]
        for email in to_send:
            slices[_lane_of(email, len(slices))].append(email)
        for lane, sender, emails_of_lane in zip(self._lanes, self.senders, slices, strict=True):
            if emails_of_lane:
                lane.submit(self._send_lane, sender, emails_of_lane)
        wait([email.future for email in emails])

    def close(self) -> None:
        """Stop the lanes and say QUIT on every connection."""
        for lane in self._lanes:
            lane.shutdown(wait=True)
        for sender in self.senders:
            sender.close()

    def _claim(self, emails: list[PendingEmail]) -> list[PendingEmail]:
        """The emails to send now; the others (sent or skipped already, erased) are done.

        The erased accounts are read after the claims are committed, so an erasure running
        meanwhile cannot be missed (see deliveries.erase_account).
        """
        if not emails:
            return []
        try:
            with self.pool.connection() as conn:
                claimed = deliveries.claim(conn, emails)
                erased = deliveries.erased_among(
                    conn, {email.account_id for email in emails if email.account_id}
                )
        except Exception as error:  # noqa: BLE001 - each email's outcome is its event's to settle
            for email in emails:
                email.future.set_exception(error)
            return []
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
        try:
            self.delivery_log.skip(email.event_id, email.kind, None, None, "the account was deleted")
        except Exception as error:  # noqa: BLE001 - see _claim
            email.future.set_exception(error)
            return
        metrics.SKIPPED.labels(email.kind).inc()
        email.future.set_result(None)

    def _send_lane(self, sender: Sender, emails: list[PendingEmail]) -> None:
        """Send one lane's emails in order on its connection; every Future ends, whatever happens."""
        try:
            with self.pool.connection() as conn:
                # A connection broken since its last use (the database restarted) fails here, before
                # any email goes out, rather than at its first mark (a duplicate).
                conn.execute("SELECT 1")
                for email in emails:
                    self._send_one(conn, sender, email)
        except BaseException as error:
            for email in emails:
                if not email.future.done():
                    email.future.set_exception(error)
            if not isinstance(error, Exception):
                raise

    def _send_one(self, conn: psycopg.Connection, sender: Sender, email: PendingEmail) -> None:
        """Compose, send and mark one email; a failure is recorded and ends its Future only."""
        try:
            message = email.compose()
            self.rate_limit.acquire()
            started = time.perf_counter()
            sender.send(message)
        except (TransientError, PermanentError) as error:
            self._failed(email, error)
            return
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        deliveries.mark_sent(conn, email.event_id, message.message_id)
        metrics.SENT.labels(email.kind).inc()
        email.future.set_result(None)

    def _failed(self, email: PendingEmail, error: TransientError | PermanentError) -> None:
        """Record the failure for operators (it outlives the retry), then end the Future with it."""
        permanent = isinstance(error, PermanentError)
        try:
            self.delivery_log.mark_failed(email.event_id, str(error), permanent=permanent)
        finally:
            (metrics.FAILED if permanent else metrics.RETRIED).labels(email.kind).inc()
            email.future.set_exception(error)


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
