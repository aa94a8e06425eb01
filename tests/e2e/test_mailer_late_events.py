"""Events the mailer handles late: codes that expired or run short meanwhile, accounts deleted meanwhile."""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from accounts_common.events import new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES
from tests.e2e.mail_helpers import code_issued
from tests.support.polling import wait_for


def delivery_row(mailer, event_id: str):  # type: ignore[no-untyped-def]
    """(status, recipient, account_id, last_error) of one event's delivery, None before it is logged."""
    with psycopg.connect(mailer.database_url) as conn:
        return conn.execute(
            "SELECT status, recipient, account_id, last_error FROM deliveries WHERE event_id = %s",
            (event_id,),
        ).fetchone()


def skipped(mailer, event_id: str):  # type: ignore[no-untyped-def]
    row = delivery_row(mailer, event_id)
    return row if row and row[0] == "skipped" else None


def erased(mailer, account_id: str) -> bool:
    with psycopg.connect(mailer.database_url) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM erased_accounts WHERE account_id = %s", (uuid.UUID(account_id),)
            ).fetchone()
        )


def test_the_code_mail_states_the_time_left_when_it_is_sent_not_when_it_was_issued(
    mailer, infra, unique_email
):
    data = code_issued(unique_email)
    issued = datetime.now(UTC) - timedelta(minutes=25)
    data["expires_at"] = (issued + timedelta(minutes=30)).isoformat()
    event = new_event("CodeIssued", source="/identity", subject=data["account_id"], data=data)
    mailer.publish_events(CODES, [dataclasses.replace(event, time=issued.isoformat())])
    [mail] = infra.inbox.wait_for_messages(unique_email)
    assert "This code will expire in 5 minutes." in mail["text"]
    assert "expire in 5 minutes" in mail["html"]


def test_an_expired_code_is_not_sent_and_is_logged_as_skipped_with_the_reason(mailer, infra, unique_email):
    data = code_issued(unique_email)
    data["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    expired = mailer.publish(CODES, "CodeIssued", data)
    wait_for(lambda: skipped(mailer, expired.id), timeout=30, what="the expired code logged as skipped")
    [delivery] = mailer.deliveries(unique_email)
    assert delivery["status"] == "skipped" and "expired" in delivery["last_error"]
    fresh = mailer.publish(CODES, "CodeIssued", code_issued(unique_email, "777777"))
    [mail] = infra.inbox.wait_for_messages(unique_email)  # the later code only: the expired one never went
    assert "777777" in mail["text"]
    assert {d["event_id"] for d in mailer.deliveries(unique_email)} == {expired.id, fresh.id}


def test_a_code_handled_after_its_account_was_deleted_does_not_bring_the_address_back(
    mailer, infra, unique_email
):
    data = code_issued(unique_email)
    account_id = data["account_id"]
    mailer.publish(
        ACCOUNT_EVENTS,
        "AccountDeleted",
        {"account_id": account_id, "deleted_at": datetime.now(UTC).isoformat()},
    )
    wait_for(lambda: erased(mailer, account_id), timeout=30, what="the account recorded as erased")
    late = mailer.publish(CODES, "CodeIssued", data)
    status, recipient, kept_account, reason = wait_for(
        lambda: skipped(mailer, late.id), timeout=30, what="the late code logged as skipped"
    )
    assert (recipient, kept_account) == (None, None)
    assert "deleted" in reason
    assert mailer.deliveries(unique_email) == []
    assert infra.inbox.messages(to=unique_email) == []
