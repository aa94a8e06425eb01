"""Choosing the language of one's mails after sign-up (PATCH /v1/accounts/me) against the real database:
the account keeps it, AccountLocaleChanged carries it, and the next code mail is written in it."""

import jwt

from accounts_common.events import validate_data
from identity.service_layer import sessions
from tests.integration.conftest import PASSWORD, account_events, bearer, sign_up, then_deleted


def choose(client, token, body):  # type: ignore[no-untyped-def]
    return client.patch("/v1/accounts/me", json=body, headers=bearer(token))


def test_a_chosen_language_is_kept_and_announced(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    response = choose(client, token, {"locale": "fr"})
    assert response.status_code == 200 and response.json["locale"] == "fr"
    assert response.json["email"] == unique_email and response.json["id"] == account_id
    assert client.get("/v1/accounts/me", headers=bearer(token)).json["locale"] == "fr"
    changed = account_events(identity_pool, account_id)[-1]
    assert changed["type"] == "AccountLocaleChanged" and changed["subject"] == account_id
    data = validate_data(changed["type"], changed["data"])
    assert (str(data["account_id"]), data["email"], data["locale"]) == (account_id, unique_email, "fr")


def test_the_tokens_issued_after_a_choice_carry_the_language(client, identity_pool, unique_email):
    """A service that has not read the account's events yet writes to the person in the token's language
    (the newsletter, for one subscribing before AccountVerified arrives)."""
    token = sign_up(client, identity_pool, unique_email)
    assert "locale" not in jwt.decode(token, options={"verify_signature": False}), "none chosen yet"
    choose(client, token, {"locale": "fr"})
    later = client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD})
    assert jwt.decode(later.json["access_token"], options={"verify_signature": False})["locale"] == "fr"


def test_choosing_the_language_it_has_announces_nothing(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    choose(client, token, {"locale": "fr"})
    again = choose(client, token, {"locale": "fr"})
    assert again.status_code == 200 and again.json["locale"] == "fr"
    types = [event["type"] for event in account_events(identity_pool, account_id)]
    assert types.count("AccountLocaleChanged") == 1


def test_a_language_it_does_not_know_is_a_problem(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    for body in ({"locale": "de"}, {"locale": ""}, {}, {"locale": ["fr"]}):
        response = choose(client, token, body)
        assert response.status_code == 422, body
        assert response.content_type == "application/problem+json" and "locale" in response.json["errors"]
    assert client.get("/v1/accounts/me", headers=bearer(token)).json["locale"] == "en"


def test_no_token_no_change(client):
    response = client.patch("/v1/accounts/me", json={"locale": "fr"})
    assert response.status_code == 401 and response.content_type == "application/problem+json"


def test_the_next_code_mail_is_in_the_chosen_language(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    choose(client, token, {"locale": "fr"})
    client.post("/v1/password-resets", json={"email": unique_email})
    codes = [
        event["data"] for event in account_events(identity_pool, account_id) if event["type"] == "CodeIssued"
    ]
    assert codes[-1]["purpose"] == "password_reset" and codes[-1]["locale"] == "fr"


def test_an_account_deleted_once_the_token_was_checked_is_not_answered_as_changed(
    client, identity_pool, unique_email, monkeypatch
):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    monkeypatch.setattr(sessions, "authenticate", then_deleted(identity_pool, sessions.authenticate))
    response = choose(client, token, {"locale": "fr"})
    assert response.status_code == 401 and response.content_type == "application/problem+json"
    written_since = [event["type"] for event in account_events(identity_pool, account_id)]
    assert "AccountLocaleChanged" not in written_since
