"""Delivery through faults: SMTP 4xx storms, 5xx dead letters and their replay, a killed worker."""

import signal
import uuid

import psycopg
import pytest

from accounts_common.events import dead_letter_topic, new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES, NEWSLETTER_DELIVERIES, OPERATOR_ACTIONS
from mailer.service_layer.dispatch import duplicate_window
from mailer.settings import Settings
from tests.e2e.mail_helpers import code_issued, event_id_counts, newsletter_delivery
from tests.support.http import call
from tests.support.kafka import TopicReader
from tests.support.outbox import outbox_records
from tests.support.polling import wait_for
from tests.support.processes import run_once


@pytest.fixture
def smtp_faults(infra, unique_email):  # type: ignore[no-untyped-def]
    """The sink's fault switch, for the test's own recipient: cleared afterwards, that fault alone
    (tests of other workers share the sink and keep their own faults and mail)."""
    yield infra.inbox
    infra.inbox.clear_fault(unique_email)


def code_events(mailer, email: str, count: int) -> list:  # type: ignore[no-untyped-def]
    """`count` CodeIssued events to one address from as many accounts (spread over the partitions)."""
    return [
        new_event("CodeIssued", source="/identity", subject=data["account_id"], data=data)
        for data in (code_issued(email, f"{n:06d}") for n in range(count))
    ]


def wait_for_every_event(infra, email: str, ids: set[str], timeout: float):  # type: ignore[no-untyped-def]
    """Poll the sink until every event id has at least one email; the counts per event id."""

    def all_arrived():  # type: ignore[no-untyped-def]
        counts = event_id_counts(infra.inbox.messages(to=email))
        return counts if ids <= set(counts) else None

    return wait_for(all_arrived, timeout=timeout, what=f"{len(ids)} emails to {email}", interval=0.5)


def test_a_451_storm_during_a_burst_delays_every_email_but_loses_and_doubles_none(
    mailer, infra, smtp_faults, unique_email
):
    events = code_events(mailer, unique_email, 200)
    # A number of refusals, not a time: however long the worker takes to start sending, it meets them.
    smtp_faults.set_fault(451, "4.3.0 Try again later", count=50, recipients=unique_email)
    mailer.publish_events(CODES, events)
    counts = wait_for_every_event(infra, unique_email, {event.id for event in events}, timeout=120)
    assert counts == {event.id: 1 for event in events}
    with psycopg.connect(mailer.database_url) as conn:
        outcomes = conn.execute(
            """SELECT status, attempts > 1 AS retried, last_error IS NULL, count(*) FROM deliveries
               WHERE recipient = %s GROUP BY 1, 2, 3 ORDER BY 2""",
            (unique_email,),
        ).fetchall()
    assert [(status, error_cleared) for status, _, error_cleared, _ in outcomes] == [("sent", True)] * len(
        outcomes
    )
    assert sum(count for *_, count in outcomes) == 200
    assert any(retried for _, retried, _, _ in outcomes), "the storm should have made some deliveries retry"


def test_a_550_goes_to_the_dead_letters_and_is_delivered_after_a_replay(
    mailer, infra, smtp_faults, unique_email
):
    dead_letters = TopicReader(infra.kafka, dead_letter_topic(mailer.group))
    try:
        smtp_faults.set_fault(550, "5.1.1 Mailbox unavailable", recipients=unique_email)
        event = mailer.publish(CODES, "CodeIssued", code_issued(unique_email, "550550"))
        dead_letters.read_until(
            lambda records: any(event.id.encode() in record.value for record in records),
            timeout=60,
            what="the dead letter",
        )
    finally:
        dead_letters.close()
        smtp_faults.clear_fault(unique_email)
    [letter] = [r for r in dead_letters.records if event.id.encode() in r.value]
    headers = dict(letter.headers)
    assert b"550" in headers["dlq.reason"] and b"Mailbox unavailable" in headers["dlq.reason"]
    assert headers["dlq.original.topic"] == mailer.topic(CODES).encode()
    [delivery] = mailer.deliveries(unique_email)
    assert delivery["status"] == "failed" and "550" in delivery["last_error"]
    assert infra.inbox.messages(to=unique_email) == []

    output = run_once(["accounts-dlq", "replay", "--group", mailer.group], mailer.env)
    assert "replayed" in output

    [mail] = infra.inbox.wait_for_messages(unique_email, timeout=60)
    assert "550550" in mail["text"]
    [delivery] = wait_for(
        lambda: [d for d in mailer.deliveries(unique_email) if d["status"] == "sent"],
        timeout=30,
        what="the delivery marked sent",
    )
    assert delivery["attempts"] == 2 and delivery["last_error"] is None


def test_a_reply_naming_the_address_leaves_it_out_of_the_workers_log(mailer, smtp_faults, unique_email):
    """Mail servers name the recipient in their replies; a log line keeps what it says past the erasure
    of the account, which reaches the mailer's tables and topics but never its logs."""
    rejected = "Recipient address rejected: User unknown in local recipient table"
    smtp_faults.set_fault(550, f"5.1.1 <{unique_email}>: {rejected}", recipients=unique_email)
    mailer.publish(CODES, "CodeIssued", code_issued(unique_email, "552552"))

    def logged() -> list[str]:
        lines = mailer.worker.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "dead-lettered" in line and rejected in line]

    wait_for(logged, timeout=60, what="the dead letter logged with its reason")
    assert unique_email not in mailer.worker.log_path.read_text(errors="replace")
    [delivery] = mailer.deliveries(unique_email)
    assert unique_email in delivery["last_error"], "the delivery log, which the erasure empties, keeps it"


def test_support_sees_a_dead_letter_with_its_reason_and_replays_it_alone(
    mailer, infra, smtp_faults, unique_email
):
    try:
        smtp_faults.set_fault(550, "5.1.1 Mailbox unavailable", recipients=unique_email)
        event = mailer.publish(CODES, "CodeIssued", code_issued(unique_email, "551551"))
        letter = wait_for(lambda: open_letter(mailer, event.id), timeout=60, what="the listed dead letter")
    finally:
        smtp_faults.clear_fault(unique_email)
    assert (letter["event_type"], letter["original_topic"]) == ("CodeIssued", mailer.topic(CODES))
    assert "550" in letter["reason"] and "Mailbox unavailable" in letter["reason"] and letter["failed_at"]

    one = {"partition": letter["partition"], "offset": letter["offset"]}
    status, body = call("POST", f"{mailer.web_url}/v1/dead-letters/replays", one, mailer.support)
    assert (status, body) == (200, {"replayed": 1})
    [mail] = infra.inbox.wait_for_messages(unique_email, timeout=60)
    assert "551551" in mail["text"]
    wait_for(lambda: open_letter(mailer, event.id) is None, timeout=30, what="the letter off the list")

    nowhere = {"partition": letter["partition"], "offset": 10**9}
    status, problem = call("POST", f"{mailer.web_url}/v1/dead-letters/replays", nowhere, mailer.support)
    assert status == 404 and problem["type"].endswith("unknown-dead-letter")
    status, problem = call("POST", f"{mailer.web_url}/v1/dead-letters/replays", {"offset": 1}, mailer.support)
    assert status == 400 and problem["detail"].startswith("Give both partition and offset"), problem
    editor = mailer.other_staff("newsletter-editor")
    assert call("GET", f"{mailer.web_url}/v1/dead-letters", headers=editor)[0] == 403
    assert call("POST", f"{mailer.web_url}/v1/dead-letters/replays", {}, editor)[0] == 403
    mailer.deliveries(unique_email)
    # The topic as the outbox holds it: the relay adds the prefix.
    entries = [event["data"] for event in outbox_records(mailer.database_url, topic=OPERATOR_ACTIONS)]
    actions = {entry["action"] for entry in entries}
    assert {"mail.dead-letter-read", "mail.dead-letter-replayed", "deliveries.looked-up"} <= actions
    # Listing it was reading it: by support, and named as its replay is.
    read = {(entry["action"], entry["target"]) for entry in entries if entry["actor_account_id"]}
    assert ("mail.dead-letter-read", f"CodeIssued {event.id}") in read


def open_letter(mailer, event_id: str):  # type: ignore[no-untyped-def]
    """The event's dead letter as support lists it, or None."""
    status, body = call("GET", f"{mailer.web_url}/v1/dead-letters", headers=mailer.support)
    assert status == 200, body
    return next((letter for letter in body["items"] if letter["event_id"] == event_id), None)


def test_a_worker_killed_mid_burst_delivers_every_email_after_its_restart(mailer, infra, unique_email):
    events = code_events(mailer, unique_email, 400)
    mailer.publish_events(CODES, events)
    wait_for(
        lambda: len(infra.inbox.messages(to=unique_email)) >= 40,
        timeout=60,
        what="the burst to be under way",
        interval=0.1,
    )
    mailer.worker.stop(signal.SIGKILL)
    mailer.restart_worker()
    counts = wait_for_every_event(infra, unique_email, {event.id for event in events}, timeout=180)
    duplicates = sum(count - 1 for count in counts.values())
    emails = sum(counts.values())
    print(f"\nSIGKILL mid-burst: {len(events)} events, {emails} emails, {duplicates} duplicate(s)")
    assert set(counts) == {event.id for event in events}
    # The only window: SMTP accepted the email, the worker died before marking it sent.
    assert duplicates <= duplicate_window(Settings("", "").smtp_connections)


def test_account_deleted_erases_its_addresses_but_keeps_anonymous_counts(mailer, infra, unique_email):
    code = mailer.publish(CODES, "CodeIssued", code_issued(unique_email))
    account_id = code.subject
    issue = newsletter_delivery(unique_email)  # to the same account: its subject
    mailer.publish_events(
        NEWSLETTER_DELIVERIES,
        [new_event("NewsletterDeliveryRequested", source="/newsletter", subject=account_id, data=issue)],
    )
    infra.inbox.wait_for_messages(unique_email, count=2)
    wait_for(lambda: len(mailer.deliveries(unique_email)) == 2, timeout=30, what="both deliveries logged")

    deleted = {"account_id": account_id, "deleted_at": "2026-11-28T00:00:00+00:00"}
    mailer.publish(ACCOUNT_EVENTS, "AccountDeleted", deleted)
    wait_for(lambda: mailer.deliveries(unique_email) == [], timeout=30, what="the address erased")

    with psycopg.connect(mailer.database_url) as conn:
        row = conn.execute(
            "SELECT kind, status, recipient, account_id, created_at FROM deliveries WHERE event_id = %s",
            (code.id,),
        ).fetchone()
        anonymous = conn.execute(
            "SELECT count(*) FROM deliveries WHERE recipient IS NULL AND status = 'sent'"
        ).fetchone()
        leftovers = conn.execute(
            "SELECT count(*) FROM deliveries WHERE lower(recipient) = lower(%s) OR account_id = %s",
            (unique_email, uuid.UUID(account_id)),
        ).fetchone()
    assert row is not None
    kind, status, recipient, kept_account, created_at = row
    assert (kind, status, recipient, kept_account) == ("code", "sent", None, None) and created_at
    assert leftovers == (0,)
    assert anonymous is not None and anonymous[0] >= 2
