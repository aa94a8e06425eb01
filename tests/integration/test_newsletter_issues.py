"""Issues through their life, in-process against PostgreSQL and the real broker: written in two
languages, test-sent, sent or scheduled, cancelled, fanned out, and counted from delivery results."""

import dataclasses
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from psycopg_pool import PoolClosed

from accounts_common.db import create_pool
from accounts_common.events import new_event, validate_data
from accounts_common.events.topics import NEWSLETTER_DELIVERIES
from accounts_common.roles import Role
from identity.service_layer import staff
from newsletter.adapters import repository
from newsletter.domain.issues import RENDERED_EMPTY, delivery_id
from newsletter.domain.unsubscribe import account_of_token
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.issues import start_scheduled
from newsletter.service_layer.results import DeliveryResults
from newsletter.service_layer.subscriptions import status, unsubscribe
from tests.integration.conftest import (
    PASSWORD,
    account_of,
    bearer,
    sign_up,
    staff_token,
)
from tests.support.kafka import TopicReader
from tests.support.newsletter import (
    deliveries_of,
    delivery_result,
    locales_of,
    recipients_of,
    role_revoked,
    seed_subscribers,
    subscription_starts,
)
from tests.support.outbox import outbox_records
from tests.support.polling import wait_for

ISSUE = {
    "subject": {"en": "Our latest updates", "fr": "Nos dernières nouvelles"},
    "body": {"en": "New videos **this week**.", "fr": "De nouvelles vidéos **cette semaine**."},
}
AUDIT_TOPIC = "audit.operator-actions.v1"  # as the outbox holds it; the relay adds the prefix


def editor_of(header: dict[str, str]) -> str:
    return account_of(header["Authorization"].split()[1])


def create(client, editor: dict[str, str], issue: dict = ISSUE) -> dict:  # type: ignore[no-untyped-def, type-arg]
    created = client.post("/v1/issues", json=issue, headers=editor)
    assert created.status_code == 201, created.json
    assert created.json["status"] == "draft"
    return created.json


def send(client, editor: dict[str, str], issue_id: str, **body: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    sent = client.post(f"/v1/issues/{issue_id}/send", json=body, headers=editor)
    assert sent.status_code == 202, sent.json
    return sent.json


def wait_sent(client, issue_id: str, editor: dict[str, str]) -> dict:  # type: ignore[no-untyped-def, type-arg]
    def sent():  # type: ignore[no-untyped-def]
        body = client.get(f"/v1/issues/{issue_id}", headers=editor).json
        return body if body["status"] == "sent" else None

    return wait_for(sent, timeout=60, what=f"issue {issue_id} to be fanned out", interval=0.1)


def audit_actions(newsletter_db: str, editor: str) -> list[dict]:  # type: ignore[type-arg]
    return [event["data"] for event in outbox_records(newsletter_db, topic=AUDIT_TOPIC, key=editor)]


def test_an_issue_reaches_every_subscriber_once_in_their_language_with_a_working_link(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra, newsletter_editor
):
    seed_subscribers(newsletter_db, 150)
    start_fan_out()
    reader = TopicReader(infra.kafka, deliveries_topic)
    try:
        issue_id = create(newsletter_client, newsletter_editor)["id"]
        accepted = send(newsletter_client, newsletter_editor, issue_id)
        assert accepted["status"] in ("sending", "sent")
        expected = recipients_of(newsletter_db, issue_id)
        done = wait_sent(newsletter_client, issue_id, newsletter_editor)
        assert done["figures"]["recipients"] == len(expected) >= 150
        reader.read_until(
            lambda records: len(deliveries_of(records, issue_id)) >= len(expected),
            timeout=30,
            what="the issue's delivery requests",
        )
    finally:
        reader.close()
    deliveries = deliveries_of(reader.records, issue_id)
    locales = locales_of(newsletter_db)
    starts = subscription_starts(newsletter_db)
    assert {"fr", None} <= set(locales.values())
    assert Counter(event["subject"] for event in deliveries) == Counter(expected)
    assert {record.key.decode() for record in reader.records} >= expected
    for event in deliveries:
        validate_data(event["type"], event["data"])
        assert (
            event["id"]
            == event["data"]["delivery_id"]
            == str(delivery_id(uuid.UUID(issue_id), uuid.UUID(event["subject"])))
        )
        link = urlparse(event["data"]["unsubscribe_url"])
        assert link.netloc == "portal.example.test" and link.path == "/newsletter/unsubscribe"
        language = locales[event["subject"]] or "en"
        assert event["data"]["locale"] == language, "in the subscriber's language, else English"
        assert datetime.fromisoformat(event["data"]["subscribed_at"]) == starts[event["subject"]]
        assert parse_qs(link.query)["lang"] == [language]
        [token] = parse_qs(link.query)["token"]
        assert str(account_of_token(newsletter.settings.unsubscribe_key, token)) == event["subject"]
        assert event["data"]["subject"] == ISSUE["subject"][language]
        words = {"en": "this week", "fr": "cette semaine"}[language]
        assert f"<strong>{words}</strong>" in event["data"]["html"]
        assert words in event["data"]["text"] and "**" not in event["data"]["text"]
    with psycopg.connect(newsletter_db) as conn:
        recorded = conn.execute(
            "SELECT count(*) FROM issue_recipients WHERE issue_id = %s", (issue_id,)
        ).fetchone()
    assert recorded == (len(expected),)


def test_the_recipients_are_counted_when_the_issue_goes_not_when_it_is_written(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra, newsletter_editor
):
    early, leaver = seed_subscribers(newsletter_db, 2)
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    [before_sending] = seed_subscribers(newsletter_db, 1)
    unsubscribe(newsletter, uuid.UUID(leaver), "user")
    send(newsletter_client, newsletter_editor, issue_id)
    [latecomer] = seed_subscribers(newsletter_db, 1)
    reader = TopicReader(infra.kafka, deliveries_topic)
    start_fan_out()
    try:
        done = wait_sent(newsletter_client, issue_id, newsletter_editor)
        reader.read_until(
            lambda records: len(deliveries_of(records, issue_id)) >= done["figures"]["recipients"],
            timeout=30,
            what="the delivery requests",
        )
    finally:
        reader.close()
    recipients = {event["subject"] for event in deliveries_of(reader.records, issue_id)}
    assert {early, before_sending} <= recipients
    assert leaver not in recipients and latecomer not in recipients


def test_a_scheduled_issue_goes_at_its_time_once_even_when_the_worker_starts_after_it(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra, newsletter_editor
):
    [reader_id] = seed_subscribers(newsletter_db, 1)
    send_at = datetime.now(UTC) + timedelta(seconds=2)
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    scheduled = send(newsletter_client, newsletter_editor, issue_id, send_at=send_at.isoformat())
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["send_at"]) == send_at
    assert scheduled["figures"]["recipients"] == 0
    wait_for(lambda: datetime.now(UTC) > send_at, timeout=10, what="the issue's time to pass")
    reader = TopicReader(infra.kafka, deliveries_topic)
    start_fan_out()  # a worker (re)started after the time: it finds the issue due
    start_fan_out()  # and a second one standing by: the issue still goes once
    try:
        done = wait_sent(newsletter_client, issue_id, newsletter_editor)
        reader.read_until(
            lambda records: deliveries_of(records, issue_id), timeout=30, what="the delivery request"
        )
    finally:
        reader.close()
    assert datetime.fromisoformat(done["started_at"]) >= send_at, "not before its time"
    assert reader_id in {event["subject"] for event in deliveries_of(reader.records, issue_id)}
    assert done["figures"]["recipients"] == len(recipients_of(newsletter_db, issue_id))
    actions = [a["action"] for a in audit_actions(newsletter_db, editor_of(newsletter_editor))]
    assert actions[-3:] == ["issue.created", "issue.scheduled", "issue.sent"]


def test_a_scheduled_issue_starts_in_the_name_of_the_editor_who_scheduled_it(
    newsletter, newsletter_client, newsletter_db, newsletter_editor, served_identity, identity_pool
):
    identity = served_identity.app.extensions["identity"]
    scheduler = bearer(staff_token(identity, identity_pool, Role.NEWSLETTER_EDITOR))
    issue_id = create(newsletter_client, newsletter_editor)["id"]  # written by another editor
    send_at = datetime.now(UTC) + timedelta(hours=1)
    send(newsletter_client, scheduler, issue_id, send_at=send_at.isoformat())
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.find_issue(conn, uuid.UUID(issue_id), lock=True)
        assert start_scheduled(newsletter, conn, issue) is not None  # as the scheduler does, when due
        conn.execute("UPDATE issues SET status = 'sent' WHERE id = %s", (issue_id,))  # no fan-out here

    actions = [a for a in audit_actions(newsletter_db, editor_of(scheduler)) if issue_id in a["target"]]
    assert [a["action"] for a in actions] == ["issue.scheduled", "issue.sent"]


def test_a_cancelled_issue_never_goes_and_a_sent_one_cannot_be_cancelled_or_sent_again(
    newsletter, newsletter_client, newsletter_db, deliveries_topic, start_fan_out, infra, newsletter_editor
):
    seed_subscribers(newsletter_db, 1)
    start_fan_out()
    cancelled_id = create(newsletter_client, newsletter_editor)["id"]
    send_at = datetime.now(UTC) + timedelta(seconds=1)
    send(newsletter_client, newsletter_editor, cancelled_id, send_at=send_at.isoformat())
    cancelled = newsletter_client.post(f"/v1/issues/{cancelled_id}/cancel", headers=newsletter_editor)
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")
    # Another issue sent after the cancelled one's time: once it went, the worker had passed that time.
    wait_for(lambda: datetime.now(UTC) > send_at, timeout=10, what="the cancelled issue's time to pass")
    later_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, later_id)
    wait_sent(newsletter_client, later_id, newsletter_editor)
    assert (
        newsletter_client.get(f"/v1/issues/{cancelled_id}", headers=newsletter_editor).json["status"]
        == "cancelled"
    )
    with psycopg.connect(newsletter_db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM issue_recipients WHERE issue_id = %s", (cancelled_id,)
        ).fetchone() == (0,)
    for action in ("cancel", "send"):
        refused = newsletter_client.post(f"/v1/issues/{later_id}/{action}", headers=newsletter_editor)
        assert refused.status_code == 409 and refused.json["type"].endswith("issue-status"), refused.json
    edited = newsletter_client.put(f"/v1/issues/{later_id}", json=ISSUE, headers=newsletter_editor)
    assert edited.status_code == 409


def test_an_issue_missing_a_language_is_refused_at_send_time_with_the_reason(
    newsletter_client, newsletter_editor
):
    english_only = {"subject": {"en": "News"}, "body": {"en": "Hello", "fr": ""}}
    issue_id = create(newsletter_client, newsletter_editor, english_only)["id"]
    refused = newsletter_client.post(f"/v1/issues/{issue_id}/send", json={}, headers=newsletter_editor)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("issue-incomplete")
    assert set(refused.json["errors"]) == {"subject.fr", "body.fr"}
    assert (
        newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["status"] == "draft"
    )
    edited = newsletter_client.put(f"/v1/issues/{issue_id}", json=ISSUE, headers=newsletter_editor)
    assert edited.status_code == 200 and edited.json["subject"] == ISSUE["subject"]


@pytest.mark.parametrize("action", ["send", "test"])
def test_a_body_that_renders_to_nothing_is_refused_at_send_and_at_test_with_the_reason(
    newsletter_client, newsletter_db, newsletter_editor, served_identity, action
):
    only_a_link_definition = {**ISSUE, "body": {**ISSUE["body"], "fr": "[x]: https://example.org"}}
    issue_id = create(newsletter_client, newsletter_editor, only_a_link_definition)["id"]
    refused = newsletter_client.post(f"/v1/issues/{issue_id}/{action}", json={}, headers=newsletter_editor)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json", refused.json
    assert refused.json["type"].endswith("issue-incomplete")
    assert refused.json["errors"] == {"body.fr": [RENDERED_EMPTY]}
    with psycopg.connect(newsletter_db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM outbox WHERE topic = %s AND record_value LIKE %s",
            (NEWSLETTER_DELIVERIES, f"%{issue_id}%"),
        ).fetchone() == (0,)
    assert (
        newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["status"] == "draft"
    )


def test_a_test_send_goes_to_the_editor_alone_in_each_language(
    newsletter_client, newsletter_db, newsletter_editor, served_identity
):
    seed_subscribers(newsletter_db, 3)
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    tested = newsletter_client.post(f"/v1/issues/{issue_id}/test", headers=newsletter_editor)
    assert tested.status_code == 202, tested.json
    editor = editor_of(newsletter_editor)
    with psycopg.connect(newsletter_db) as conn:
        rows = conn.execute(
            "SELECT topic, record_key, record_value FROM outbox WHERE topic = %s AND record_value LIKE %s",
            (NEWSLETTER_DELIVERIES, f"%{issue_id}%"),
        ).fetchall()
    requests = [json.loads(value) for _, _, value in rows]
    assert {key for _, key, _ in rows} == {editor}
    assert {r["data"]["email"] for r in requests} == {tested.json["email"]}
    assert tested.json["email"].startswith("staff-")
    assert sorted(r["data"]["subject"] for r in requests) == sorted(ISSUE["subject"].values())
    assert sorted(tested.json["languages"]) == ["en", "fr"]
    assert (
        newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["status"] == "draft"
    )
    assert [a["action"] for a in audit_actions(newsletter_db, editor)][-1] == "issue.tested"


def test_the_figures_count_the_mailers_results_and_a_hard_bounce_ends_the_subscription(
    newsletter, newsletter_client, newsletter_db, newsletter_pool, start_fan_out, newsletter_editor
):
    delivered, soft, bounced, leaver = seed_subscribers(newsletter_db, 4)
    start_fan_out()
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, issue_id)
    wait_sent(newsletter_client, issue_id, newsletter_editor)
    recipients = len(recipients_of(newsletter_db, issue_id))
    with psycopg.connect(newsletter_db) as conn:
        emails = dict(conn.execute("SELECT account_id::text, email FROM known_accounts").fetchall())
    results = DeliveryResults(newsletter)
    handlers = results.handlers()

    def result(event_type: str, account: str, **extra: str) -> None:
        data = delivery_result(issue_id, account, emails[account], **extra)
        event = new_event(event_type, source="/mailer", subject=account, data=data)
        for _ in range(2):  # a redelivered result counts once
            with newsletter_pool.connection() as conn, conn.transaction():
                handlers[event_type](conn, event, validate_data(event_type, data))
            results.finish_batch()  # the consumer's end of a poll: the deliveries are counted here

    for account in (delivered, bounced, leaver):
        result("EmailDelivered", account)
    result("EmailFailed", soft, **{"class": "soft", "reason": "SMTP 552 too big", "via": "smtp"})
    result("EmailFailed", bounced, **{"class": "hard", "reason": "5.1.1 user unknown", "via": "dsn"})
    result("EmailDelivered", bounced)  # a late acceptance does not undo a bounce
    unsubscribe(newsletter, uuid.UUID(leaver), "one_click")
    figures = newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["figures"]
    # The other tests' subscribers are recipients too; only these four have results.
    assert figures == {
        "recipients": recipients,
        "sent": 2,
        "failed": 1,
        "bounced": 1,
        "unsubscribed": 1,
    }
    listed = newsletter_client.get("/v1/issues", headers=newsletter_editor).json["items"]
    assert next(item for item in listed if item["id"] == issue_id)["figures"] == figures
    ended = status(newsletter, uuid.UUID(bounced))
    assert (ended.subscribed, ended.reason) == (False, "bounce")
    assert status(newsletter, uuid.UUID(soft)).subscribed


def test_a_failed_mail_replayed_and_delivered_counts_as_sent(
    newsletter, newsletter_client, newsletter_db, newsletter_pool, start_fan_out, newsletter_editor
):
    """Support replays a dead letter (SMTP was down past the retry limit): the mailer sends it, and
    its EmailDelivered follows the EmailFailed (soft) of the give-up."""
    [reader] = seed_subscribers(newsletter_db, 1)
    start_fan_out()
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, issue_id)
    wait_sent(newsletter_client, issue_id, newsletter_editor)
    with psycopg.connect(newsletter_db) as conn:
        [email] = conn.execute("SELECT email FROM known_accounts WHERE account_id = %s", (reader,)).fetchone()
    data = delivery_result(issue_id, reader, email)
    gave_up = {**data, "class": "soft", "reason": "given up after retries", "via": "smtp"}
    results = DeliveryResults(newsletter)
    for event_type, event_data in (("EmailFailed", gave_up), ("EmailDelivered", data)):
        event = new_event(event_type, source="/mailer", subject=reader, data=event_data)
        with newsletter_pool.connection() as conn, conn.transaction():
            results.handlers()[event_type](conn, event, validate_data(event_type, event_data))
        results.finish_batch()

    figures = newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["figures"]
    assert (figures["sent"], figures["failed"], figures["bounced"]) == (1, 0, 0)


def test_a_bounce_of_an_old_address_leaves_the_subscription_alone(newsletter, newsletter_db, newsletter_pool):
    [account] = seed_subscribers(newsletter_db, 1)
    data = {
        "delivery_id": str(uuid.uuid4()),
        "kind": "code",
        "email": "an-old-address@example.org",
        "account_id": account,
        "at": datetime.now(UTC).isoformat(),
        "class": "hard",
        "reason": "5.1.1",
        "via": "dsn",
    }
    with newsletter_pool.connection() as conn, conn.transaction():
        DeliveryResults(newsletter).failed(
            conn,
            new_event("EmailFailed", source="/mailer", subject=account, data=data),
            validate_data("EmailFailed", data),
        )
    assert status(newsletter, uuid.UUID(account)).subscribed


def test_the_deliveries_of_one_poll_are_counted_together_and_a_failed_count_fails_each_of_their_events(
    newsletter, newsletter_client, newsletter_db, start_fan_out, newsletter_editor
):
    readers = seed_subscribers(newsletter_db, 3)
    start_fan_out()
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, issue_id)
    wait_sent(newsletter_client, issue_id, newsletter_editor)
    reports = [{"delivery_id": str(delivery_id(uuid.UUID(issue_id), uuid.UUID(r)))} for r in readers]

    broken_pool = create_pool(newsletter_db, name="closed")
    broken_pool.close()
    broken = DeliveryResults(dataclasses.replace(newsletter, pool=broken_pool))
    failing = [broken.delivered(None, None, report) for report in reports]  # type: ignore[arg-type]
    broken.finish_batch()
    assert all(isinstance(outcome.exception(timeout=0), PoolClosed) for outcome in failing)

    results = DeliveryResults(newsletter)
    counted = [results.delivered(None, None, report) for report in reports]  # type: ignore[arg-type]
    assert not any(outcome.done() for outcome in counted)  # until the poll's batch ends
    results.finish_batch()
    assert [outcome.result(timeout=0) for outcome in counted] == [None, None, None]
    figures = newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["figures"]
    assert (figures["sent"], figures["failed"], figures["bounced"]) == (3, 0, 0)


def test_a_preview_shows_each_language_as_mailed_without_storing_it(newsletter_client, newsletter_editor):
    body = {"subject": {"en": "Hi", "fr": "Salut"}, "body": {"en": "<script>x</script> *a*", "fr": "*b*"}}
    shown = newsletter_client.post("/v1/issues/preview", json=body, headers=newsletter_editor)
    assert shown.status_code == 200
    assert shown.json["en"]["html"] == "<p>&lt;script&gt;x&lt;/script&gt; <em>a</em></p>\n"
    assert shown.json["fr"]["text"] == "b\n" and shown.json["fr"]["subject"] == "Salut"


def test_only_newsletter_editors_with_a_second_factor_write_and_read_issues(
    newsletter_client, served_identity, identity_pool, unique_email, newsletter_editor
):
    identity = served_identity.app.extensions["identity"]
    plain = bearer(sign_up(served_identity.app.test_client(), identity_pool, unique_email))
    support = bearer(staff_token(identity, identity_pool, Role.SUPPORT))
    assert newsletter_client.post("/v1/issues", json=ISSUE).status_code == 401
    assert newsletter_client.post("/v1/issues", json=ISSUE, headers=bearer("guess")).status_code == 401
    for wrong in (plain, support):
        for method, path in (("get", f"/v1/issues/{uuid.uuid4()}"), ("get", "/v1/issues"),
                             ("post", f"/v1/issues/{uuid.uuid4()}/send")):  # fmt: skip
            refused = getattr(newsletter_client, method)(path, headers=wrong)
            assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    staff.grant(identity, unique_email, Role.NEWSLETTER_EDITOR)
    without_otp = served_identity.app.test_client().post(
        "/v1/sessions", json={"email": unique_email, "password": PASSWORD}
    )
    refused = newsletter_client.post(
        "/v1/issues", json=ISSUE, headers=bearer(without_otp.json["access_token"])
    )
    assert refused.status_code == 403 and refused.json["type"].endswith("second-factor-required")
    for path in (f"/v1/issues/{uuid.uuid4()}", f"/v1/issues/{uuid.uuid4()}/cancel"):
        call = newsletter_client.get if path.count("/") == 3 else newsletter_client.post
        missing = call(path, headers=newsletter_editor)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_every_action_on_an_issue_is_in_the_audit_trail(newsletter_client, newsletter_db, newsletter_editor):
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    newsletter_client.put(f"/v1/issues/{issue_id}", json=ISSUE, headers=newsletter_editor)
    newsletter_client.post(f"/v1/issues/{issue_id}/test", headers=newsletter_editor)
    newsletter_client.post(f"/v1/issues/{issue_id}/cancel", headers=newsletter_editor)
    editor = editor_of(newsletter_editor)
    actions = [a for a in audit_actions(newsletter_db, editor) if issue_id in a["target"]]
    assert [a["action"] for a in actions] == [
        "issue.created",
        "issue.edited",
        "issue.tested",
        "issue.cancelled",
    ]
    assert {(a["actor_account_id"], a["via"]) for a in actions} == {(editor, "api")}


@pytest.mark.parametrize(
    "body",
    [
        {**ISSUE, "subject": {"en": "two\nlines"}},
        {**ISSUE, "subject": "one string"},
        {**ISSUE, "subject": {"de": "Neuigkeiten"}},
        {**ISSUE, "extra": 1},
        {"subject": {"en": "no bodies"}},
        {**ISSUE, "body": {"en": 42}},
        {"subject": ISSUE["subject"], "text": "the old shape", "html": "<p>gone</p>"},
    ],
)
def test_a_bad_issue_is_a_422_problem(newsletter_client, body, newsletter_editor):
    response = newsletter_client.post("/v1/issues", json=body, headers=newsletter_editor)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_a_huge_request_is_refused_and_an_issue_too_large_to_deliver_is_refused_when_sent(
    newsletter_client, newsletter_editor
):
    huge = {**ISSUE, "body": {"en": "x" * (2 * 1024 * 1024)}}
    response = newsletter_client.post(
        "/v1/issues", data=json.dumps(huge), content_type="application/json", headers=newsletter_editor
    )
    assert response.status_code == 413 and response.json["type"] == "about:blank"
    # Under 200,000 characters and 1 MiB of request, over one 1 MB record once rendered twice (text, html).
    large = {**ISSUE, "body": {"en": "\U0001f600" * 125_000, "fr": "x"}}
    body = json.dumps(large, ensure_ascii=False).encode()
    created = newsletter_client.post(
        "/v1/issues", data=body, content_type="application/json", headers=newsletter_editor
    )
    assert created.status_code == 201
    refused = newsletter_client.post(f"/v1/issues/{created.json['id']}/send", headers=newsletter_editor)
    assert refused.status_code == 413 and refused.json["type"] == "/problems/issue-too-large"


def test_a_send_time_well_past_is_refused_and_one_just_past_sends_now(newsletter_client, newsletter_editor):
    """A past time is a mistake (local time typed as UTC, the wrong day), not "now": taken as now, it
    would mail every subscriber at once. Within the grace the console's whole minutes need, it is now."""
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    refused = newsletter_client.post(
        f"/v1/issues/{issue_id}/send", json={"send_at": an_hour_ago}, headers=newsletter_editor
    )
    assert refused.status_code == 422
    assert refused.json["type"].endswith("/send-at-past")
    assert "send_at" in refused.json["errors"]
    still = newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json
    assert still["status"] == "draft"

    a_minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert send(newsletter_client, newsletter_editor, issue_id, send_at=a_minute_ago)["status"] == "sending"


def test_a_new_videos_issue_its_editor_can_no_longer_send_is_a_draft_beside_the_open_one(newsletter):
    """One "New videos" draft is open at a time: the scheduled one back to draft becomes an ordinary draft,
    and the worker keeps adding to the one opened since. Another role's revocation holds nothing."""
    editor, admin, texts = uuid.uuid4(), uuid.uuid4(), ({"en": "New videos"}, {"en": "- a video"})
    handle = account_event_handlers(newsletter)["StaffRoleRevoked"]
    with newsletter.pool.connection() as conn, conn.transaction():
        repository.insert_new_videos_draft(conn, uuid.uuid4(), *texts)  # unless one is open already
        scheduled = repository.open_new_videos_draft(conn)
        assert scheduled is not None
        repository.schedule(
            conn, scheduled.id, datetime.now(UTC) + timedelta(hours=1), editor, datetime.now(UTC)
        )
        opened = uuid.uuid4()
        repository.insert_new_videos_draft(conn, opened, *texts)
        handle(conn, *role_revoked(editor, admin, Role.SUPPORT))
        assert repository.find_issue(conn, scheduled.id).status == "scheduled"  # type: ignore[union-attr]
        handle(conn, *role_revoked(editor, admin))
        held = repository.find_issue(conn, scheduled.id)
        assert held is not None and (held.status, held.held_because, held.send_at) == (
            "draft",
            "role-revoked",
            None,
        )
        assert repository.open_new_videos_draft(conn).id == opened  # type: ignore[union-attr]
    [entry] = [
        record["data"]
        for record in outbox_records(newsletter.pool, topic=AUDIT_TOPIC)
        if str(scheduled.id) in record["data"]["target"] and record["data"]["action"] == "issue.unscheduled"
    ]
    assert entry["actor_account_id"] == str(admin)


def test_an_issue_scheduled_after_the_revocation_stays_scheduled_when_it_is_handled_late(newsletter):
    """The newsletter's consumer behind (a backlog, an outage): the editor lost the role, got it back
    and logged in again, then scheduled the issue, all before the revocation is handled here. The issue
    went on the authority of the role granted again: it stays scheduled."""
    editor, admin = uuid.uuid4(), uuid.uuid4()
    revoked_at = datetime.now(UTC) - timedelta(minutes=5)
    handle = account_event_handlers(newsletter)["StaffRoleRevoked"]
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.insert_issue(conn, uuid.uuid4(), {"en": "Summit"}, {"en": "Text"}, editor)
        logged_in_again = datetime.now(UTC) - timedelta(minutes=1)
        repository.schedule(conn, issue.id, datetime.now(UTC) + timedelta(hours=1), editor, logged_in_again)
        handle(conn, *role_revoked(editor, admin, at=revoked_at))
        found = repository.find_issue(conn, issue.id)
        assert found is not None and (found.status, found.held_because) == ("scheduled", None)
