"""Sign-up through running processes: register → email in the sink → verify → events on Kafka."""

import json

import jwt

from accounts_common.events import TOPICS
from accounts_common.events.topics import ACCOUNT_EVENTS
from tests.support.http import call
from tests.support.inbox import code_in
from tests.support.kafka import TopicReader

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
    all_topics = TopicReader(infra.kafka, *(topic.name for topic in TOPICS))
    account_events = TopicReader(infra.kafka, ACCOUNT_EVENTS)
    try:
        status, body = call(
            "POST", f"{stack.identity_url}/v1/accounts", {"email": unique_email, "password": PASSWORD}
        )
        assert (status, body["status"]) == (202, "verification_pending")
        registration_id = body["registration_id"]

        [mail] = infra.inbox.wait_for_messages(unique_email)
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
                r.key == account_id.encode() and r.topic == "identity.codes.v1" for r in records
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
    call("POST", f"{stack.identity_url}/v1/accounts", {"email": unique_email, "password": PASSWORD})
    [mail] = infra.inbox.wait_for_messages(unique_email)
    headers = {name.lower(): value for name, value in mail["headers"].items()}
    assert headers["to"] == unique_email
    assert "no-reply@" in headers["from"] and headers["reply-to"]
    assert headers["message-id"].startswith("<") and headers["date"]
    assert "{{" not in mail["text"] and "{{" not in mail["html"]
    assert len(infra.inbox.messages(unique_email)) == 1
