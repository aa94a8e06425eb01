"""The mailer's dispatcher against a real database and a private SMTP sink: a batch claimed at once,
sent over several connections, each email once, one account's emails in their order."""

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import wait
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from accounts_common.events import validate_data
from accounts_common.retry_policy import PermanentError, TransientError
from mailer.adapters import claims, deliveries, suppressions
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.adapters.smtp import OutcomeUnknown, SmtpSender
from mailer.adapters.smtp_lanes import UNMARKED_PER_LANE
from mailer.domain.messages import Content, Envelope, OutgoingEmail, build_message
from mailer.entrypoints.cli import worker_pool
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer.dispatch import FIRST_CLAIM, Dispatcher, PendingEmail
from tests.conftest import Infra, migrated_database
from tests.support.outbox import outbox_events
from tests.support.polling import wait_for
from tests.support.sink import PrivateSink

ENVELOPE = Envelope("no-reply@multimedia.localhost", "support@multimedia.localhost")
LANES = 4


@pytest.fixture(scope="module")
def mailer_pool(infra: Infra) -> Iterator[ConnectionPool]:
    """The worker's own pool: no check at checkout, so a broken connection shows at its first use."""
    with worker_pool(migrated_database(infra, "test_mailer_dispatch", MAILER_MIGRATIONS), LANES) as pool:
        yield pool


@pytest.fixture
def dispatcher(mailer_pool: ConnectionPool, sink: PrivateSink) -> Iterator[Dispatcher]:
    senders = [SmtpSender("127.0.0.1", sink.smtp_port) for _ in range(LANES)]
    dispatcher = Dispatcher(mailer_pool, senders, DeliveryLog(mailer_pool), TokenBucket(0))
    yield dispatcher
    dispatcher.close()


def pending(
    recipient: str, subject: str, account_id: uuid.UUID | None = None, event_id: str = "", kind: str = "code"
) -> PendingEmail:
    event_id = event_id or str(uuid.uuid4())
    content = Content(subject, "text\n", "<p>html</p>")
    return PendingEmail(
        event_id,
        kind,
        account_id or uuid.uuid4(),
        recipient,
        None,
        lambda: build_message(ENVELOPE, recipient, content, event_id=event_id),
    )


def statuses(pool: ConnectionPool, emails: list[PendingEmail]) -> dict[str, tuple[str, int]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT event_id::text, status, attempts FROM deliveries WHERE event_id = ANY(%s::uuid[])",
            ([email.event_id for email in emails],),
        ).fetchall()
    return {event_id: (status, attempts) for event_id, status, attempts in rows}


def terminate_other_backends(pool: ConnectionPool) -> None:
    with psycopg.connect(pool.conninfo, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def healthy_pool(mailer_pool: ConnectionPool) -> None:
    """Each test starts with working connections, whatever the test before it broke."""
    mailer_pool.check()


def test_a_batch_goes_out_over_every_connection_each_email_once_and_marked_sent(
    dispatcher, mailer_pool, sink
):
    recipient = f"batch-{uuid.uuid4().hex[:8]}@example.org"
    emails = [pending(recipient, f"mail {n}", account_id=uuid.UUID(int=n)) for n in range(40)]
    futures = [dispatcher.submit(email) for email in emails]

    dispatcher.finish_batch()

    assert all(future.done() and future.exception() is None for future in futures)
    received = sink.inbox.messages(to=recipient)
    assert sorted(message["subject"] for message in received) == sorted(f"mail {n}" for n in range(40))
    assert len({message["peer"] for message in received}) == LANES, "every SMTP connection carried some"
    assert statuses(mailer_pool, emails) == {email.event_id: ("sent", 1) for email in emails}


def test_one_accounts_emails_go_out_in_their_order_across_claims(dispatcher, sink):
    """Its emails span several claims (FIRST_CLAIM, then more), and lanes are free to take them."""
    account = uuid.uuid4()
    recipient = f"ordered-{uuid.uuid4().hex[:8]}@example.org"
    others = [pending(f"other-{n}-{recipient}", "other") for n in range(20)]
    mine = [pending(recipient, f"code {n}", account_id=account) for n in range(3 * FIRST_CLAIM)]
    for email in [*others[:10], *mine, *others[10:]]:
        dispatcher.submit(email)

    dispatcher.finish_batch()

    received = list(reversed(sink.inbox.messages(to=recipient)))  # the inbox lists newest first
    assert [message["subject"] for message in received] == [f"code {n}" for n in range(3 * FIRST_CLAIM)]


def test_an_event_twice_in_a_batch_or_already_sent_is_not_sent_again(dispatcher, mailer_pool, sink):
    recipient = f"twice-{uuid.uuid4().hex[:8]}@example.org"
    first = pending(recipient, "first")
    copy = pending(recipient, "first, again", event_id=first.event_id)
    dispatcher.submit(first)
    dispatcher.submit(copy)
    dispatcher.finish_batch()
    redelivered = pending(recipient, "first, redelivered", event_id=first.event_id)
    future = dispatcher.submit(redelivered)
    dispatcher.finish_batch()

    assert future.done() and future.exception() is None
    assert [message["subject"] for message in sink.inbox.messages(to=recipient)] == ["first"]
    assert statuses(mailer_pool, [first]) == {first.event_id: ("sent", 1)}


def test_an_erased_accounts_email_is_recorded_skipped_without_its_address(dispatcher, mailer_pool, sink):
    account = uuid.uuid4()
    recipient = f"erased-{uuid.uuid4().hex[:8]}@example.org"
    with mailer_pool.connection() as conn:
        deliveries.erase_account(conn, account)
    email = pending(recipient, "too late", account_id=account)
    dispatcher.submit(email)

    dispatcher.finish_batch()

    assert sink.inbox.messages(to=recipient) == []
    with mailer_pool.connection() as conn:
        row = conn.execute(
            "SELECT status, recipient FROM deliveries WHERE event_id = %s", (email.event_id,)
        ).fetchone()
    assert row == ("skipped", None)


def test_the_language_of_an_accounts_mails_is_not_taken_from_a_newsletter(mailer_pool):
    """A newsletter's language is the issue's (an editor's test send goes in both): an account's
    later mails without a locale of their own follow its code mail, not the last issue."""
    account = uuid.uuid4()
    recipient = f"editor-{uuid.uuid4().hex[:8]}@example.org"
    code = dataclasses.replace(pending(recipient, "code", account_id=account), locale="en")
    test_send = dataclasses.replace(pending(recipient, "issue", account, kind="newsletter"), locale="fr")
    with mailer_pool.connection() as conn:
        claims.claim(conn, [code])
        claims.claim(conn, [test_send])
    assert DeliveryLog(mailer_pool).latest_locale(account) == "en"


def test_no_email_goes_out_on_connections_broken_since_their_last_use(dispatcher, mailer_pool, sink):
    """As after a database restart: the batch fails before any email is sent that could not be marked."""
    recipient = f"broken-{uuid.uuid4().hex[:8]}@example.org"
    emails = [pending(recipient, f"mail {n}") for n in range(3)]
    terminate_other_backends(mailer_pool)
    futures = [dispatcher.submit(email) for email in emails]

    dispatcher.finish_batch()

    assert all(isinstance(future.exception(), psycopg.OperationalError) for future in futures)
    assert sink.inbox.messages(to=recipient) == []


class BreaksTheDatabaseOnItsFirstSend:
    """An SMTP sender that, at its first email, cuts the database connections (as a database restart
    would) and, from its second, waits until the first email's outcome is known before sending."""

    def __init__(self, sender: SmtpSender, pool: ConnectionPool, first: PendingEmail) -> None:
        self.sender, self.pool, self.first = sender, pool, first

    def send(self, email: OutgoingEmail) -> None:
        if not self.first.future.done():
            if email.message_id and self.first.event_id in email.raw.decode():
                terminate_other_backends(self.pool)
            else:
                wait([self.first.future], timeout=10)
        self.sender.send(email)

    def close(self) -> None:
        self.sender.close()


def test_once_a_mark_fails_the_lanes_stop_sending(mailer_pool, sink):
    """The second email is on its way when the first one's mark fails (the documented window: it is
    sent, unmarked); the lane sends nothing after it."""
    recipient = f"unmarked-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()  # one account: one lane, in order
    emails = [pending(recipient, f"mail {n}", account_id=account) for n in range(4)]
    sender = BreaksTheDatabaseOnItsFirstSend(SmtpSender("127.0.0.1", sink.smtp_port), mailer_pool, emails[0])
    dispatcher = Dispatcher(mailer_pool, [sender], DeliveryLog(mailer_pool), TokenBucket(0))
    try:
        futures = [dispatcher.submit(email) for email in emails]
        dispatcher.finish_batch()
    finally:
        dispatcher.close()

    assert sorted(message["subject"] for message in sink.inbox.messages(to=recipient)) == ["mail 0", "mail 1"]
    assert all(isinstance(future.exception(), psycopg.OperationalError) for future in futures[:2])
    assert all(isinstance(future.exception(), TransientError) for future in futures[2:])


class LocksTheFirstRowAtItsSend:
    """An SMTP sender that, before sending the first email, locks its delivery row in a transaction
    of its own (held until `release`), so that the email's mark waits."""

    def __init__(self, sender: SmtpSender, pool: ConnectionPool, first: PendingEmail) -> None:
        self.sender, self.first = sender, first
        self.locker = psycopg.connect(pool.conninfo)
        self.locked = False

    def send(self, email: OutgoingEmail) -> None:
        if not self.locked:
            self.locker.execute(
                "SELECT 1 FROM deliveries WHERE event_id = %s FOR UPDATE", (self.first.event_id,)
            )
            self.locked = True
        self.sender.send(email)

    def release(self) -> None:
        self.locker.commit()
        self.locker.close()

    def close(self) -> None:
        self.sender.close()


def test_a_lane_runs_at_most_one_email_ahead_of_its_marks(mailer_pool, sink):
    recipient = f"ahead-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    emails = [pending(recipient, f"mail {n}", account_id=account) for n in range(5)]
    sender = LocksTheFirstRowAtItsSend(SmtpSender("127.0.0.1", sink.smtp_port), mailer_pool, emails[0])
    dispatcher = Dispatcher(mailer_pool, [sender], DeliveryLog(mailer_pool), TokenBucket(0))
    for email in emails:
        dispatcher.submit(email)
    batch = threading.Thread(target=dispatcher.finish_batch, daemon=True)
    try:
        batch.start()
        wait_for(
            lambda: len(sink.inbox.messages(to=recipient)) >= UNMARKED_PER_LANE, timeout=10, what="2 sent"
        )
        time.sleep(1)  # room for a lane that would run further ahead to show it
        assert len(sink.inbox.messages(to=recipient)) == UNMARKED_PER_LANE, "sent while the first is unmarked"
    finally:
        sender.release()
        batch.join(30)
        dispatcher.close()
    assert all(email.future.exception() is None for email in emails)
    assert len(sink.inbox.messages(to=recipient)) == 5


class SlowFor:
    """An SMTP sender that takes `seconds` more over each email to `recipient`."""

    def __init__(self, sender: SmtpSender, recipient: str, seconds: float) -> None:
        self.sender, self.recipient, self.seconds = sender, recipient, seconds

    def send(self, email: OutgoingEmail) -> None:
        if email.recipient == self.recipient:
            time.sleep(self.seconds)
        self.sender.send(email)

    def close(self) -> None:
        self.sender.close()


def test_a_slow_account_holds_up_one_lane_only(mailer_pool, sink):
    """The other lane takes every other account meanwhile, whatever their hashes."""
    slow = f"slow-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    senders = [SlowFor(SmtpSender("127.0.0.1", sink.smtp_port), slow, 0.05) for _ in range(2)]
    dispatcher = Dispatcher(mailer_pool, senders, DeliveryLog(mailer_pool), TokenBucket(0))
    others = [pending(f"quick-{n}-{slow}", "quick") for n in range(10)]
    try:
        for email in [*(pending(slow, f"slow {n}", account_id=account) for n in range(6)), *others]:
            dispatcher.submit(email)
        dispatcher.finish_batch()
    finally:
        dispatcher.close()

    arrivals = [message["to"][0] for message in reversed(sink.inbox.messages())]
    quick = [n for n, to in enumerate(arrivals) if to.startswith("quick-") and to.endswith(slow)]
    last_slow = max(n for n, to in enumerate(arrivals) if to == slow)
    assert len(quick) == 10 and max(quick) < last_slow


def results(pool: ConnectionPool, emails: list[PendingEmail]) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    """The delivery results in the outbox for these emails: (event type, data), validated."""
    found = []
    ids = {email.event_id for email in emails}
    for event in outbox_events(pool, topic="mailer.delivery-results.v1"):
        if event.data["delivery_id"] in ids:
            validate_data(event.type, event.data)
            found.append((event.type, event.data))
    return found


def suppressed(pool: ConnectionPool, address: str) -> bool:
    with pool.connection() as conn:
        return bool(suppressions.suppressed_among(conn, [address]))


def test_a_newsletter_mail_accepted_is_an_email_delivered_in_the_outbox_and_a_code_mail_is_not(
    dispatcher, mailer_pool, sink
):
    recipient = f"results-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    newsletter = pending(recipient, "issue", account_id=account, kind="newsletter")
    code = pending(recipient, "code", account_id=account)
    for email in (newsletter, code):
        dispatcher.submit(email)
    dispatcher.finish_batch()

    [(event_type, data)] = results(mailer_pool, [newsletter, code])
    assert event_type == "EmailDelivered"
    assert (data["delivery_id"], data["kind"], data["email"], data["account_id"]) == (
        newsletter.event_id,
        "newsletter",
        recipient,
        str(account),
    )


def test_a_550_is_a_hard_bounce_that_suppresses_newsletters_to_the_address_but_not_its_codes(
    dispatcher, mailer_pool, sink
):
    recipient = f"gone-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    sink.inbox.set_fault(550, f"5.1.1 <{recipient}>: Recipient address rejected", recipients=recipient)
    first = pending(recipient, "issue 1", account_id=account, kind="newsletter")
    dispatcher.submit(first)
    dispatcher.finish_batch()
    assert isinstance(first.future.exception(), PermanentError)
    dispatcher.delivery_log.mark_failed(first.event_id, "dead-lettered", permanent=True)  # the give-up
    sink.inbox.clear_fault()
    second = pending(recipient.upper(), "issue 2", account_id=account, kind="newsletter")
    code = pending(recipient, "your code", account_id=account)
    for email in (second, code):
        dispatcher.submit(email)
    dispatcher.finish_batch()

    assert suppressed(mailer_pool, recipient)
    assert [m["subject"] for m in sink.inbox.messages(to=recipient)] == ["your code"]
    assert statuses(mailer_pool, [first, second]) == {
        first.event_id: ("failed", 1),
        second.event_id: ("skipped", 1),
    }
    failures = [
        (data["delivery_id"], data["class"], data["via"]) for _, data in results(mailer_pool, [first, second])
    ]
    assert failures == [(first.event_id, "hard", "smtp"), (second.event_id, "hard", "suppressed")]


def test_a_hard_bounces_failures_say_when_the_refused_mail_was_tried(dispatcher, mailer_pool, sink):
    """The refused attempt's time, and the suppressed mail's the same: that of the mail that bounced."""
    recipient = f"tried-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    sink.inbox.set_fault(550, f"5.1.1 <{recipient}>: Recipient address rejected", recipients=recipient)
    try:
        refused = pending(recipient, "issue 1", account_id=account, kind="newsletter")
        dispatcher.submit(refused)
        dispatcher.finish_batch()
    finally:
        sink.inbox.clear_fault()
    skipped = pending(recipient, "issue 2", account_id=account, kind="newsletter")
    dispatcher.submit(skipped)
    dispatcher.finish_batch()

    with mailer_pool.connection() as conn:
        [tried_at] = conn.execute(
            "SELECT created_at FROM deliveries WHERE event_id = %s", (refused.event_id,)
        ).fetchone()
    reported = {
        data["delivery_id"]: (data["via"], validate_data("EmailFailed", data).get("sent_at"))
        for _, data in results(mailer_pool, [refused, skipped])
    }
    assert reported == {refused.event_id: ("smtp", tried_at), skipped.event_id: ("suppressed", tried_at)}


def test_a_refusal_of_the_message_is_a_soft_failure_and_suppresses_nothing(dispatcher, mailer_pool, sink):
    recipient = f"content-{uuid.uuid4().hex[:8]}@example.org"
    sink.inbox.set_fault(554, "5.6.0 Message content rejected", recipients=recipient)
    try:
        email = pending(recipient, "issue", kind="newsletter")
        dispatcher.submit(email)
        dispatcher.finish_batch()
    finally:
        sink.inbox.clear_fault()
    [(event_type, data)] = results(mailer_pool, [email])
    assert (event_type, data["class"], data["via"]) == ("EmailFailed", "soft", "smtp")
    assert not suppressed(mailer_pool, recipient)


def test_a_suppressed_address_with_a_capital_beyond_ascii_gets_no_newsletter(dispatcher, mailer_pool, sink):
    """The database lower-cases in its own locale (C: ASCII only), so the address is matched there."""
    recipient = f"Élodie-{uuid.uuid4().hex[:8]}@example.org"
    with mailer_pool.connection() as conn:
        suppressions.suppress(conn, recipient, "5.1.1", "smtp")
    issue = pending(recipient, "issue", kind="newsletter")
    dispatcher.submit(issue)
    dispatcher.finish_batch()

    assert statuses(mailer_pool, [issue]) == {issue.event_id: ("skipped", 1)}
    assert sink.inbox.messages(to=recipient) == []


def test_erasing_an_account_erases_the_suppression_of_its_address(dispatcher, mailer_pool, sink):
    recipient = f"bounced-then-deleted-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    sink.inbox.set_fault(550, f"5.1.1 <{recipient}>: Recipient address rejected", recipients=recipient)
    try:
        dispatcher.submit(pending(recipient, "issue", account_id=account, kind="newsletter"))
        dispatcher.finish_batch()
    finally:
        sink.inbox.clear_fault()
    assert suppressed(mailer_pool, recipient)

    with mailer_pool.connection() as conn:
        suppressions.subscribed(conn, account, f"new-{recipient}", datetime.now(UTC))
        deliveries.erase_account(conn, account)
        left = conn.execute(
            "SELECT count(*) FROM suppressions WHERE address = %s OR reason LIKE %s",
            (recipient, f"%{recipient}%"),
        ).fetchone()
        subscription = conn.execute(
            "SELECT count(*) FROM newsletter_subscriptions WHERE account_id = %s", (account,)
        ).fetchone()
    assert (left, subscription) == ((0,), (0,))


def test_subscribing_again_lifts_the_suppression(mailer_pool):
    recipient = f"back-{uuid.uuid4().hex[:8]}@example.org"
    with mailer_pool.connection() as conn:
        suppressions.suppress(conn, recipient, "5.1.1", "dsn")
    assert suppressed(mailer_pool, recipient)
    with mailer_pool.connection() as conn:
        suppressions.subscribed(conn, uuid.uuid4(), recipient.upper(), datetime.now(UTC))
    assert not suppressed(mailer_pool, recipient)


def test_a_subscription_lifts_only_the_suppressions_of_mails_sent_before_it(mailer_pool):
    """Its event handled late, or again, leaves the suppression of a mail sent since it, even when an
    older mail's bounce had suppressed the address first."""
    recipient = f"bounced-since-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    with mailer_pool.connection() as conn:
        [sent_at] = conn.execute("SELECT now()").fetchone()
        for mail_sent_at in (sent_at - timedelta(minutes=2), sent_at):
            suppressions.suppress(conn, recipient, "5.1.1", "dsn", account_id=account, sent_at=mail_sent_at)
        suppressions.subscribed(conn, account, recipient, sent_at - timedelta(minutes=1))
    assert suppressed(mailer_pool, recipient)


UNCONFIRMED = "SMTP connection lost after the whole message was sent: it may have been delivered"


class UnconfirmingSender:
    """Takes every message but never confirms one, as a server whose reply to the end of DATA is lost."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    def send(self, email: OutgoingEmail) -> None:
        self.sent.append(email)
        raise OutcomeUnknown(UNCONFIRMED)

    def close(self) -> None:
        pass


def test_a_mail_whose_acceptance_is_unknown_is_marked_sent_with_why_and_never_sent_again(mailer_pool):
    sender = UnconfirmingSender()
    dispatcher = Dispatcher(mailer_pool, [sender], DeliveryLog(mailer_pool), TokenBucket(0))
    try:
        email = pending(f"unconfirmed-{uuid.uuid4().hex[:8]}@example.org", "once")
        future = dispatcher.submit(email)
        dispatcher.finish_batch()
        redelivered = pending(email.recipient, "once, redelivered", event_id=email.event_id)
        dispatcher.submit(redelivered)  # its partition retried for another record's sake, say
        dispatcher.finish_batch()
    finally:
        dispatcher.close()
    assert future.done() and future.exception() is None
    assert len(sender.sent) == 1
    with mailer_pool.connection() as conn:
        row = conn.execute(
            "SELECT status, message_id, last_error FROM deliveries WHERE event_id = %s", (email.event_id,)
        ).fetchone()
    assert row == ("sent", sender.sent[0].message_id, UNCONFIRMED)
