"""The bounce mailbox against a real database and SMTP sink: a mail the sink accepts and then bounces
(a `dsn` fault: an RFC 3464 DSN into its Maildir, as a relay's would reach the bounce address) is
read by `mailer bounces`, which suppresses the address and reports the very delivery that bounced."""

import dataclasses
import mailbox
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.events import new_event, validate_data
from accounts_common.events.topics import DELIVERY_RESULTS
from accounts_common.housekeeping import delete_expired
from mailer.adapters import claims, deliveries, suppressions
from mailer.adapters.bounces import Bounce, BounceReport
from mailer.adapters.deliveries import DeliveryLog
from mailer.adapters.ratelimit import TokenBucket
from mailer.adapters.smtp import SmtpSender
from mailer.bootstrap import bootstrap
from mailer.domain.messages import Content, Envelope, build_message
from mailer.entrypoints.cli import main, worker_pool
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer.bounces import read_maildir, record_report
from mailer.service_layer.dispatch import Dispatcher, PendingEmail
from mailer.settings import Settings
from tests.conftest import Infra, migrated_database
from tests.support.outbox import outbox_events
from tests.support.sink import PrivateSink

ENVELOPE = Envelope("no-reply@multimedia.localhost", "support@multimedia.localhost")
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "dsn"


@pytest.fixture(scope="module")
def mailer_pool(infra: Infra) -> Iterator[ConnectionPool]:
    with worker_pool(migrated_database(infra, "test_mailer_bounces", MAILER_MIGRATIONS), 1) as pool:
        yield pool


@pytest.fixture
def bouncing_sink(tmp_path: Path) -> Iterator[PrivateSink]:
    sink = PrivateSink(tmp_path, "--bounce-maildir", str(tmp_path / "bounces"))
    sink.start()
    yield sink
    sink.stop()


def newsletter_mail(recipient: str, account: uuid.UUID) -> PendingEmail:
    event_id = str(uuid.uuid4())
    content = Content("Our latest updates", "text\n", "<p>html</p>")
    return PendingEmail(
        event_id,
        "newsletter",
        account,
        recipient,
        "en",
        lambda: build_message(ENVELOPE, recipient, content, event_id=event_id),
    )


def failures(pool: ConnectionPool) -> list[dict]:  # type: ignore[type-arg]
    events = outbox_events(pool, topic=DELIVERY_RESULTS)
    return [validate_data(e.type, e.data) | {"type": e.type} for e in events if e.type == "EmailFailed"]


def test_a_bounce_after_acceptance_is_read_from_the_maildir_suppressed_and_reported_once(
    mailer_pool, bouncing_sink, tmp_path
):
    recipient = f"moved-away-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    bouncing_sink.inbox.set_fault(550, "5.1.1 User unknown", recipients=recipient, dsn=True)
    dispatcher = Dispatcher(
        mailer_pool,
        [SmtpSender("127.0.0.1", bouncing_sink.smtp_port)],
        DeliveryLog(mailer_pool),
        TokenBucket(0),
    )
    try:
        sent = newsletter_mail(recipient, account)
        dispatcher.submit(sent)
        dispatcher.finish_batch()
        later = newsletter_mail(recipient, account)
        assert sent.future.exception() is None, "the server accepted it: the bounce comes later"
        [dsn] = bouncing_sink.inbox.messages(to=ENVELOPE.sender)
        assert dsn["subject"] == "Undelivered Mail Returned to Sender"

        assert read_maildir(mailer_pool, DELIVERY_RESULTS, tmp_path / "bounces") == 1
        assert read_maildir(mailer_pool, DELIVERY_RESULTS, tmp_path / "bounces") == 0, "read once"
        dispatcher.submit(later)
        dispatcher.finish_batch()
    finally:
        dispatcher.close()

    with mailer_pool.connection() as conn:
        assert suppressions.suppressed_among(conn, [recipient]) == {recipient}
        [accepted_at] = conn.execute(
            "SELECT sent_at FROM deliveries WHERE event_id = %s", (sent.event_id,)
        ).fetchone()
    reported = [(f["delivery_id"], f["failure_class"], f["via"], f.get("sent_at"))
                for f in failures(mailer_pool) if f["email"] == recipient]  # fmt: skip
    assert reported == [
        (uuid.UUID(sent.event_id), "hard", "dsn", accepted_at),
        (uuid.UUID(later.event_id), "hard", "suppressed", accepted_at),  # when the mail that bounced went
    ]
    assert [m["subject"] for m in bouncing_sink.inbox.messages(to=recipient)] == []


def test_a_late_bounce_of_a_mail_sent_before_the_account_subscribed_again_suppresses_nothing(
    mailer_pool, bouncing_sink, tmp_path
):
    """The person subscribed again after that mail went (their mailbox works, they say): its bounce is
    reported, for the newsletter to judge, but the next issue still goes, and its own bounce suppresses."""
    recipient = f"back-again-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    settings = dataclasses.replace(
        Settings.from_env(), smtp_host="127.0.0.1", smtp_port=bouncing_sink.smtp_port, smtp_connections=1
    )
    mailer = bootstrap(settings, mailer_pool)
    bouncing_sink.inbox.set_fault(550, "5.1.1 User unknown", recipients=recipient, dsn=True)
    try:
        old = newsletter_mail(recipient, account)
        mailer.dispatcher.submit(old)
        mailer.dispatcher.finish_batch()
        with mailer_pool.connection() as conn:
            [resubscribed_at] = conn.execute("SELECT now()").fetchone()
            data = {"account_id": str(account), "email": recipient, "at": resubscribed_at.isoformat(),
                    "reason": "user"}  # fmt: skip
            event = new_event("NewsletterSubscribed", source="/newsletter", subject=str(account), data=data)
            mailer.handlers()["NewsletterSubscribed"](conn, event, validate_data(event.type, data))
        assert read_maildir(mailer_pool, DELIVERY_RESULTS, tmp_path / "bounces") == 1
        with mailer_pool.connection() as conn:
            assert suppressions.suppressed_among(conn, [recipient]) == set()

        later = newsletter_mail(recipient, account)
        mailer.dispatcher.submit(later)
        mailer.dispatcher.finish_batch()
        assert read_maildir(mailer_pool, DELIVERY_RESULTS, tmp_path / "bounces") == 1
    finally:
        mailer.dispatcher.close()

    with mailer_pool.connection() as conn:
        assert suppressions.suppressed_among(conn, [recipient]) == {recipient}
    reported = [(f["delivery_id"], f["via"]) for f in failures(mailer_pool) if f["email"] == recipient]
    assert reported == [(uuid.UUID(old.event_id), "dsn"), (uuid.UUID(later.event_id), "dsn")]


@dataclass
class SentMail:
    event_id: str
    recipient: str
    kind: str = "newsletter"
    account_id: uuid.UUID | None = None
    locale: str | None = "en"


def sent(pool: ConnectionPool, recipient: str, message_id: str) -> str:
    """A mail we sent to `recipient` under `message_id`, as the worker records it; its event id."""
    mail = SentMail(str(uuid.uuid4()), recipient)
    with pool.connection() as conn:
        claims.claim(conn, [mail])
        deliveries.mark_sent(conn, [(mail.event_id, message_id)], newsletters=False)
    return mail.event_id


def test_real_world_bounces_in_the_maildir_suppress_their_hard_addresses_only(mailer_pool, tmp_path):
    sent(mailer_pool, "amd-xen-safety@groups.io", "<60627444-420d-42a1-b7b6-d74dec2479e0@suse.com>")
    sent(mailer_pool, "hishealinghand@pastors.com", "<vCWO6hm8U00000059@nt-server.mmv.int>")
    sent(mailer_pool, "delangen@its.tudelft.nl", "<19990920022322.A19735@stereo.rotzorg.org>")
    folder = tmp_path / "mailbox"
    mailbox.Maildir(folder, create=True)  # what a mail server delivering to it makes
    for name in ("gmail.eml", "postfix-mixed.eml", "delayed.eml", "exim.eml"):
        shutil.copy(SAMPLES / name, folder / "new" / f"1.{name}")
    assert read_maildir(mailer_pool, DELIVERY_RESULTS, folder) == 4
    with mailer_pool.connection() as conn:
        found = suppressions.suppressed_among(
            conn,
            ["amd-xen-safety@groups.io", "hishealinghand@pastors.com", "spam@michael-mueller-verlag.de",
             "pkocmid@atlas.cz", "delangen@its.tudelft.nl"],
        )  # fmt: skip
    assert found == {"amd-xen-safety@groups.io", "hishealinghand@pastors.com", "delangen@its.tudelft.nl"}
    assert sorted(path.parent.name for path in folder.glob("*/1.*")) == ["cur"] * 4


def test_a_bounce_that_returns_no_mail_we_sent_to_its_address_is_ignored(mailer_pool, tmp_path):
    victim = "victim@example.com"
    elsewhere = sent(mailer_pool, "someone-else@example.com", "<guessed-0001@multimedia.localhost>")
    to_victim = sent(mailer_pool, victim, f"<{uuid.uuid4().hex}@multimedia.localhost>")
    folder = tmp_path / "mailbox"
    mailbox.Maildir(folder, create=True)
    shutil.copy(SAMPLES / "forged.eml", folder / "new" / "1.forged.eml")
    shutil.copy(SAMPLES / "postfix.eml", folder / "new" / "1.postfix.eml")  # we never sent its mail
    assert read_maildir(mailer_pool, DELIVERY_RESULTS, folder) == 2
    with mailer_pool.connection() as conn:
        assert suppressions.suppressed_among(conn, [victim, "xxxxx@local.ie"]) == set()
    reported = {f["delivery_id"] for f in failures(mailer_pool)}
    assert not reported & {uuid.UUID(elsewhere), uuid.UUID(to_victim)}
    assert sorted(path.parent.name for path in folder.glob("*/1.*")) == ["cur", "cur"]


def test_mailer_bounces_run_once_reads_new_mail_and_expires_handled_mail_but_not_the_flagged(
    mailer_pool, tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "mailbox"
    mailbox.Maildir(folder, create=True)
    shutil.copy(SAMPLES / "postfix.eml", folder / "new" / "9.new")
    long_ago = time.time() - 91 * 86400
    for name in ("1.handled:2,S", "2.for-an-operator:2,FS"):
        shutil.copy(SAMPLES / "postfix.eml", folder / "cur" / name)
        os.utime(folder / "cur" / name, (long_ago, long_ago))
    monkeypatch.setenv("MAILER_DATABASE_URL", mailer_pool.conninfo)
    monkeypatch.setenv("MAILER_DELIVERY_LOG_DAYS", "90")
    main(["bounces", "--maildir", str(folder)])
    assert sorted(path.name for path in folder.glob("*/*")) == ["2.for-an-operator:2,FS", "9.new:2,S"]
    assert capsys.readouterr().out.splitlines() == [
        f"mailer: 1 bounce message(s) read from {folder}",
        "mailer: 1 handled bounce message(s) expired",
    ]


def test_erasing_an_account_erases_its_suppression_after_its_mails_expired_from_the_log(mailer_pool):
    """The log keeps MAILER_DELIVERY_LOG_DAYS of mails, a suppression lasts: erasing the account after
    its mails expired (it got no newsletter since) must still forget the address that bounced."""
    recipient = f"bounced-long-ago-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    message_id = f"<{uuid.uuid4().hex}@multimedia.localhost>"
    mail = SentMail(str(uuid.uuid4()), recipient, account_id=account)
    with mailer_pool.connection() as conn:
        claims.claim(conn, [mail])
        deliveries.mark_sent(conn, [(mail.event_id, message_id)], newsletters=False)
    assert record_report(mailer_pool, DELIVERY_RESULTS, BounceReport([Bounce(recipient, True)], [message_id]))
    with mailer_pool.connection() as conn:
        conn.execute(
            "UPDATE deliveries SET created_at = created_at - interval '91 days' WHERE event_id = %s",
            (mail.event_id,),
        )
        delete_expired(conn, Settings.from_env().housekeeping())
        expired = conn.execute("SELECT 1 FROM deliveries WHERE event_id = %s", (mail.event_id,)).fetchone()
        assert expired is None, "the log forgot the mail"
        deliveries.erase_account(conn, account)
        assert suppressions.suppressed_among(conn, [recipient]) == set()


def test_a_bounce_read_while_its_account_is_erased_leaves_no_suppression(mailer_pool, monkeypatch):
    """The bounce's transaction found the mail, then the erasure ran before it suppressed the address:
    the erasure must still forget the address, whichever commits first."""
    recipient = f"erased-meanwhile-{uuid.uuid4().hex[:8]}@example.org"
    account, message_id = uuid.uuid4(), f"<{uuid.uuid4().hex}@multimedia.localhost>"
    mail = SentMail(str(uuid.uuid4()), recipient, account_id=account)
    with mailer_pool.connection() as conn:
        claims.claim(conn, [mail])
        deliveries.mark_sent(conn, [(mail.event_id, message_id)], newsletters=False)
    found, go_on = threading.Event(), threading.Event()
    suppress = suppressions.suppress

    def suppress_once_erasure_started(*args, **kwargs):  # type: ignore[no-untyped-def]
        found.set()
        go_on.wait(10)
        suppress(*args, **kwargs)

    monkeypatch.setattr(suppressions, "suppress", suppress_once_erasure_started)
    report = BounceReport([Bounce(recipient, True)], [message_id])
    bounce = threading.Thread(target=record_report, args=(mailer_pool, DELIVERY_RESULTS, report))
    bounce.start()
    assert found.wait(10)

    def erase() -> None:
        with mailer_pool.connection() as conn:
            deliveries.erase_account(conn, account)

    erasure = threading.Thread(target=erase)
    erasure.start()
    erasure.join(1)  # it ends here, or waits for the bounce's transaction
    go_on.set()
    bounce.join(10)
    erasure.join(10)
    with mailer_pool.connection() as conn:
        assert suppressions.suppressed_among(conn, [recipient]) == set()


def test_an_issue_requested_before_its_subscription_is_read_goes_to_a_mailbox_vouched_for_since_its_bounce(
    mailer_pool, bouncing_sink
):
    """NewsletterSubscribed comes on another topic than the issue's delivery requests, so the mailer
    may read a request first: the request's own subscribed_at lifts a suppression by an older bounce,
    and only that (a subscription older than the bounce leaves the address suppressed)."""
    recipient = f"came-back-{uuid.uuid4().hex[:8]}@example.org"
    account = uuid.uuid4()
    with mailer_pool.connection() as conn:
        [bounced_at] = conn.execute("SELECT now() - interval '1 day'").fetchone()
        suppressions.suppress(conn, recipient, "550 5.1.1 User unknown", "dsn", account_id=account,
                              sent_at=bounced_at)  # fmt: skip
    settings = dataclasses.replace(
        Settings.from_env(), smtp_host="127.0.0.1", smtp_port=bouncing_sink.smtp_port, smtp_connections=1
    )
    mailer = bootstrap(settings, mailer_pool)
    try:
        for subscribed_at, subject in (
            (bounced_at - timedelta(days=1), "Before"),
            (bounced_at + timedelta(hours=1), "After"),
        ):
            data = {"delivery_id": str(uuid.uuid4()), "issue_id": str(uuid.uuid4()), "email": recipient,
                    "subject": subject, "text": "text\n", "html": "<p>html</p>", "locale": "en",
                    "unsubscribe_url": "http://127.0.0.1:8000/newsletter/unsubscribe?token=t",
                    "subscribed_at": subscribed_at.isoformat()}  # fmt: skip
            event = new_event(
                "NewsletterDeliveryRequested", source="/newsletter", subject=str(account), data=data
            )
            event = dataclasses.replace(event, id=data["delivery_id"])
            with mailer_pool.connection() as conn:
                sending = mailer.handlers()[event.type](conn, event, validate_data(event.type, data))
            mailer.dispatcher.finish_batch()
            sending.result(timeout=30)
    finally:
        mailer.dispatcher.close()

    assert [m["subject"] for m in bouncing_sink.inbox.messages(to=recipient)] == ["After"]
    with mailer_pool.connection() as conn:
        assert suppressions.suppressed_among(conn, [recipient]) == set()
    assert [f["via"] for f in failures(mailer_pool) if f["email"] == recipient] == ["suppressed"]
