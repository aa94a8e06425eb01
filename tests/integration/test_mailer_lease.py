"""The claim lease against a real database and a private SMTP sink: a row 'sending' under another
worker's live claim is not claimed again (that worker is sending it), a lapsed one is (that worker
died: the documented duplicate window), and a live worker's batch keeps its rows past the lease."""

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.retry_policy import TransientError
from mailer.adapters import claims, deliveries
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.adapters.smtp import SmtpSender
from mailer.domain.messages import OutgoingEmail
from mailer.entrypoints.cli import worker_pool
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer.dispatch import FIRST_CLAIM, Dispatcher, PendingEmail
from tests.conftest import Infra, migrated_database
from tests.integration.test_mailer_dispatch import pending, results, statuses
from tests.support.polling import wait_for
from tests.support.sink import PrivateSink


@pytest.fixture(scope="module")
def mailer_pool(infra: Infra) -> Iterator[ConnectionPool]:
    with worker_pool(migrated_database(infra, "test_mailer_lease", MAILER_MIGRATIONS), 4) as pool:
        yield pool


class HeldAtTheServer:
    """An SMTP sender that holds each email until `release`, as a slow server (or a send-rate limit)
    would: the worker is alive, its email in flight and not marked."""

    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender
        self.sending = threading.Event()
        self.released = threading.Event()

    def send(self, email: OutgoingEmail) -> None:
        self.sending.set()
        self.released.wait(30)
        self.sender.send(email)

    def close(self) -> None:
        self.sender.close()


def subjects_sent_to(sink: PrivateSink, recipient: str) -> list[str]:
    return [message["subject"] for message in sink.inbox.messages(to=recipient)]


def worker(pool: ConnectionPool, sink: PrivateSink) -> Dispatcher:
    return Dispatcher(pool, [SmtpSender("127.0.0.1", sink.smtp_port)], DeliveryLog(pool), TokenBucket(0))


def redelivered(dispatcher: Dispatcher, email: PendingEmail, subject: str) -> Future[None]:
    """`email`'s event again, as `subject`, in a batch of its own (a redelivery after a rebalance)."""
    again = dispatcher.submit(pending(email.recipient, subject, event_id=email.event_id))
    dispatcher.finish_batch()
    return again


def test_a_row_under_another_workers_live_lease_is_not_claimed_until_the_lease_lapses(mailer_pool, sink):
    """Worker A claimed the email and died before marking it: B leaves it while A's lease is live
    (its Future fails transient, so its partition is retried), and sends it once the lease lapsed."""
    recipient = f"leased-{uuid.uuid4().hex[:8]}@example.org"
    email = pending(recipient, "leased")
    with mailer_pool.connection() as conn:
        claims.claim(conn, [email])  # worker A's claim; A then died, its email not marked
    b = worker(mailer_pool, sink)
    try:
        held = redelivered(b, email, "by B, held")
        assert isinstance(held.exception(), TransientError)
        assert "another worker" in str(held.exception())
        assert sink.inbox.messages(to=recipient) == []
        assert statuses(mailer_pool, [email]) == {email.event_id: ("sending", 1)}

        with mailer_pool.connection() as conn:  # LEASE_S later, as far as the lease can tell
            conn.execute(
                "UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE event_id = %s",
                (email.event_id,),
            )
        retried = redelivered(b, email, "by B, after the lease")
    finally:
        b.close()
    assert retried.exception() is None
    assert subjects_sent_to(sink, recipient) == ["by B, after the lease"]
    assert statuses(mailer_pool, [email]) == {email.event_id: ("sent", 2)}


def test_a_live_workers_renewed_lease_holds_its_email_past_the_lease(mailer_pool, sink):
    """A's email is held at the server longer than the lease: A's batch renews it, so B (which got
    A's partition) neither claims nor sends it; once A has sent it, B's retry finds it sent."""
    recipient = f"renewed-{uuid.uuid4().hex[:8]}@example.org"
    email = pending(recipient, "by A")
    held_sender = HeldAtTheServer(SmtpSender("127.0.0.1", sink.smtp_port))
    a = Dispatcher(mailer_pool, [held_sender], DeliveryLog(mailer_pool), TokenBucket(0))
    # Renewed every 0.5 s: a renewal may come a second late (a busy 2-core machine) and still hold it.
    a.lease_s = 1.5
    b = worker(mailer_pool, sink)
    a.submit(email)
    batch_a = threading.Thread(target=a.finish_batch, daemon=True)
    try:
        batch_a.start()
        assert held_sender.sending.wait(10), "A's lane is sending"
        time.sleep(3.5)  # well past A's lease, had it not been renewed

        held = redelivered(b, email, "by B")
        assert isinstance(held.exception(), TransientError)
        assert sink.inbox.messages(to=recipient) == []

        held_sender.released.set()
        batch_a.join(30)
        wait_for(lambda: statuses(mailer_pool, [email])[email.event_id][0] == "sent", timeout=10, what="sent")
        retried = redelivered(b, email, "by B, retried")
    finally:
        held_sender.released.set()
        batch_a.join(30)
        a.close()
        b.close()
    assert email.future.exception() is None and retried.exception() is None
    assert subjects_sent_to(sink, recipient) == ["by A"]
    assert statuses(mailer_pool, [email]) == {email.event_id: ("sent", 1)}


def test_a_worker_retrying_its_own_batch_is_not_held_by_its_own_lease(mailer_pool, sink):
    """Its earlier batch is over (a mark failed, say, leaving rows 'sending'): nothing of it is in
    flight, so its retry claims them at once rather than after the lease."""
    recipient = f"own-{uuid.uuid4().hex[:8]}@example.org"
    email = pending(recipient, "own")
    a = worker(mailer_pool, sink)
    try:
        with mailer_pool.connection() as conn:
            claims.claim(conn, [email], a.claimer)  # left 'sending' by a batch that failed
        retried = redelivered(a, email, "own, retried")
    finally:
        a.close()
    assert retried.exception() is None
    assert subjects_sent_to(sink, recipient) == ["own, retried"]


def test_giving_up_on_an_email_another_worker_sent_meanwhile_leaves_it_sent(mailer_pool, sink):
    """B's retries found the email held by A until B gave up on it (the consumer dead-letters it and
    tells the mailer); A had sent it meanwhile. It stays sent: no EmailFailed for a mail delivered, and
    the dead letter leaves support's list rather than being replayed into a second copy."""
    recipient = f"gave-up-{uuid.uuid4().hex[:8]}@example.org"
    email = pending(recipient, "by A", kind="newsletter")
    a = worker(mailer_pool, sink)
    try:
        a.submit(email)
        a.finish_batch()
    finally:
        a.close()
    assert statuses(mailer_pool, [email]) == {email.event_id: ("sent", 1)}

    DeliveryLog(mailer_pool).mark_failed(email.event_id, "still failing after 3600s", permanent=True)

    assert statuses(mailer_pool, [email]) == {email.event_id: ("sent", 1)}
    assert [event_type for event_type, _ in results(mailer_pool, [email])] == ["EmailDelivered"]
    with mailer_pool.connection() as conn:
        assert deliveries.sent_events(conn, [email.event_id]) == {email.event_id}


def test_a_dispatcher_closed_mid_batch_ends_the_batch_instead_of_holding_its_leases(mailer_pool, sink):
    """The consumer stopped on an error between two records (a dead letter Kafka refused) and never
    called finish_batch: closing the dispatcher sends and marks what it had claimed, fails the rest
    (their events are not committed) and returns, rather than renewing the batch's leases for ever."""
    tag = uuid.uuid4().hex[:8]
    emails = [pending(f"stopped-{n}-{tag}@example.org", f"mail {n}") for n in range(FIRST_CLAIM + 1)]
    a = worker(mailer_pool, sink)
    for email in emails:
        a.submit(email)
    closing = threading.Thread(target=a.close, daemon=True)
    closing.start()
    closing.join(15)

    assert not closing.is_alive(), "the dispatcher closed"
    claimed, unclaimed = emails[:FIRST_CLAIM], emails[FIRST_CLAIM:]
    assert [email.future.exception(0) for email in claimed] == [None] * FIRST_CLAIM
    assert all(isinstance(email.future.exception(0), TransientError) for email in unclaimed)
    assert statuses(mailer_pool, emails) == {email.event_id: ("sent", 1) for email in claimed}
