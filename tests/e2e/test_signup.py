"""Sign-up through running processes: register → email in the sink → verify → events on Kafka."""

import json
import re
import urllib.request
import uuid

import jwt
import psycopg
from kafka import KafkaConsumer, TopicPartition

from accounts_common.events import CloudEvent, new_event
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES
from tests.e2e.mail_helpers import code_issued, headers_of
from tests.support.http import call
from tests.support.inbox import code_in
from tests.support.kafka import TopicReader, publish_on_every_partition
from tests.support.polling import wait_for

PASSWORD = "Correct-Horse-9!"


def string_values(document):  # type: ignore[no-untyped-def]
    """Every scalar value in a JSON document, as text."""
    if isinstance(document, dict):
        for value in document.values():
            yield from string_values(value)
    elif isinstance(document, list):
        for value in document:
            yield from string_values(value)
    else:
        yield str(document)


def test_signup_email_verification_and_events(stack, infra, unique_email):
    all_topics = TopicReader(infra.kafka, *stack.topics)
    account_events = TopicReader(infra.kafka, stack.topic(ACCOUNT_EVENTS))
    try:
        status, body = call(
            "POST", f"{stack.identity_url}/v1/accounts", {"email": unique_email, "password": PASSWORD}
        )
        assert (status, body["status"]) == (202, "verification_pending")
        registration_id = body["registration_id"]

        mail = infra.inbox.wait_for_messages(unique_email)[0]
        assert "This code will expire in 30 minutes." in mail["text"]
        assert mail["html"] and "Check your inbox and enter verification code" in mail["html"]
        code = code_in(mail)

        status, token = call(
            "POST",
            f"{stack.identity_url}/v1/accounts/verification",
            {"email": unique_email, "registration_id": registration_id, "code": code},
        )
        assert status == 200, token
        _, jwks = call("GET", f"{stack.identity_url}/.well-known/jwks.json")
        claims = jwt.decode(token["access_token"], jwt.PyJWK(jwks["keys"][0]), algorithms=["EdDSA"])
        account_id = claims["sub"]

        def both_events(_records):  # type: ignore[no-untyped-def]
            types = [e["type"] for e in account_events.events() if e["subject"] == account_id]
            return types == ["UserRegistered", "AccountVerified"]

        account_events.read_until(both_events, timeout=30, what="UserRegistered and AccountVerified")
        all_topics.read_until(
            lambda records: any(
                r.key == account_id.encode() and r.topic == stack.topic(CODES) for r in records
            ),
            timeout=30,
            what="the CodeIssued record",
        )
    finally:
        account_events.close()
        all_topics.close()
    mine = [r for r in all_topics.records if r.key == account_id.encode()]
    for record in mine:
        assert code not in set(string_values(json.loads(record.value))), f"plaintext code on {record.topic}"
    registered = next(
        e for e in account_events.events() if e["type"] == "UserRegistered" and e["subject"] == account_id
    )
    assert registered["data"] == {
        "account_id": account_id,
        "email": unique_email,
        "registered_at": registered["data"]["registered_at"],
    }
    assert registered["source"] == "/identity" and registered["specversion"] == "1.0"


def test_the_mail_is_sent_once_and_carries_the_right_headers(stack, infra, unique_email):
    sign_up_until_all_is_mailed(stack, infra, unique_email)  # "once" means nothing else can come
    with psycopg.connect(stack.processes["mailer-worker"].env["MAILER_DATABASE_URL"]) as conn:
        deliveries = conn.execute(
            "SELECT status, attempts, message_id FROM deliveries WHERE recipient = %s", (unique_email,)
        ).fetchall()
    [(status, attempts, message_id)] = deliveries
    assert (status, attempts) == ("sent", 1)
    # The stack's topics are its own: no other mailer reads them, so its email is the only one.
    [mail] = infra.inbox.messages(unique_email)
    headers = headers_of(mail)
    assert headers["message-id"] == message_id
    assert headers["to"] == unique_email
    assert "no-reply@" in headers["from"] and headers["reply-to"]
    assert headers["message-id"].startswith("<") and headers["date"]
    assert "{{" not in mail["text"] and "{{" not in mail["html"]


def sign_up_until_all_is_mailed(stack, infra, email: str) -> None:  # type: ignore[no-untyped-def]
    """Sign up through the stack; return once its code mail came and nothing else can still come: the
    relay has published everything and the worker has committed past every record of the code's
    partition, redeliveries too."""
    codes = TopicReader(infra.kafka, stack.topic(CODES))
    try:
        status, _ = call("POST", f"{stack.identity_url}/v1/accounts", {"email": email, "password": PASSWORD})
        assert status == 202
        infra.inbox.wait_for_messages(email)
        [record] = codes.read_until(
            lambda records: mine(records, email), timeout=30, what="the CodeIssued record"
        )[-1:]
    finally:
        codes.close()
    wait_until_relay_and_worker_are_idle(stack, infra, TopicPartition(stack.topic(CODES), record.partition))


def mine(records, email: str) -> list:  # type: ignore[no-untyped-def]
    return [r for r in records if json.loads(r.value).get("data", {}).get("email") == email]


def wait_until_relay_and_worker_are_idle(stack, infra, partition: TopicPartition) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(stack.processes["identity-relay"].env["IDENTITY_DATABASE_URL"]) as conn:
        wait_for(
            lambda: conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone() == (0,),
            timeout=30,
            what="the relay to publish everything",
        )
    group = stack.processes["mailer-worker"].env["MAILER_CONSUMER_GROUP"]
    reader = KafkaConsumer(bootstrap_servers=infra.kafka, group_id=group, enable_auto_commit=False)
    try:
        end = reader.end_offsets([partition])[partition]
        wait_for(
            lambda: (reader.committed(partition) or 0) >= end,
            timeout=30,
            what="the worker to commit past the end of the partition",
            interval=0.2,
        )
    finally:
        reader.close()


def test_the_stack_mails_none_of_the_codes_on_the_shared_topic_only_its_own(stack, infra, unique_email):
    """The stack reads its own copies of the topics: codes put on the shared identity.codes.v1 (as
    `make run`'s identity or another run's stack would) get no mail from its mailer; its sign-up's does."""

    def stranger_code() -> CloudEvent:
        data = code_issued(f"stranger-{uuid.uuid4().hex[:12]}@example.org", "424242")
        return new_event("CodeIssued", source="/identity", subject=data["account_id"], data=data)

    # One on every partition, before the sign-up: a mailer reading the shared topic would reach the
    # stranger's code on the sign-up code's partition before the sign-up's own.
    shared = publish_on_every_partition(infra.kafka, CODES, stranger_code)
    sign_up_until_all_is_mailed(stack, infra, unique_email)
    addresses = [unique_email] + [event.data["email"] for event in shared]
    with psycopg.connect(stack.processes["mailer-worker"].env["MAILER_DATABASE_URL"]) as conn:
        handled = conn.execute(
            "SELECT recipient, status FROM deliveries WHERE recipient = ANY(%s)", (addresses,)
        ).fetchall()
    assert handled == [(unique_email, "sent")]


def test_the_relay_serves_its_metrics(stack, infra, unique_email):
    """The outbox alerts read the relay's own counters and gauge: its process must serve them."""
    status, _ = call(
        "POST", f"{stack.identity_url}/v1/accounts", {"email": unique_email, "password": PASSWORD}
    )
    assert status == 202
    infra.inbox.wait_for_messages(unique_email)

    def published() -> str | None:
        with urllib.request.urlopen(stack.relay_metrics_url, timeout=5) as response:
            text = response.read().decode()
        return text if re.search(r"^outbox_published_total [1-9]", text, re.MULTILINE) else None

    metrics = wait_for(published, timeout=30, what="a published event counted")
    assert re.search(r"^outbox_parked_rows 0", metrics, re.MULTILINE)
    assert "outbox_publish_failures_total" in metrics


def test_signing_up_again_mails_the_owner_a_notice_in_their_language_and_no_code(stack, infra, unique_email):
    registration = {"email": unique_email, "password": PASSWORD, "locale": "fr"}
    status, first = call("POST", f"{stack.identity_url}/v1/accounts", registration)
    assert status == 202, first
    code_mail = infra.inbox.wait_for_messages(unique_email)[0]
    verification = {
        "email": unique_email,
        "registration_id": first["registration_id"],
        "code": code_in(code_mail),
    }
    assert call("POST", f"{stack.identity_url}/v1/accounts/verification", verification)[0] == 200

    again = {"email": unique_email, "password": "Someone-Else-7?", "locale": "en"}
    status, second = call("POST", f"{stack.identity_url}/v1/accounts", again)
    assert (status, second["status"], set(second)) == (202, first["status"], set(first))
    notice = wait_for(
        lambda: next(
            (m for m in infra.inbox.messages(unique_email) if "déjà un compte" in m["subject"]), None
        ),
        timeout=30,
        what="the notice to reach the owner's mailbox, in French",
    )
    assert notice["subject"] == "Vous avez déjà un compte"
    assert "/login" in notice["text"] and "/password-reset" in notice["text"]
    assert not re.search(r"\b\d{6}\b", notice["text"])  # no code in it
    code_mails = [m for m in infra.inbox.messages(unique_email) if m["subject"] == code_mail["subject"]]
    # One code mail, from the first sign-up: none for the second.
    assert {headers_of(m)["x-accounts-event-id"] for m in code_mails} == {
        headers_of(code_mail)["x-accounts-event-id"]
    }
