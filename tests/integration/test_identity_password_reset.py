"""Password reset through identity's HTTP API against the real database."""

from datetime import timedelta

import pytest

from identity.domain.limits import LoginThrottle
from identity.entrypoints.app import create_app
from tests.integration.conftest import PASSWORD, account_events, bearer, latest_code, sign_up
from tests.support.outbox import outbox_records

NEW_PASSWORD = "Brand-New-Secret-42?"


def request_reset(client, email):
    return client.post("/v1/password-resets", json={"email": email})


def submit_code(client, email, code):
    return client.post("/v1/password-resets/verification", json={"email": email, "code": code})


def complete(client, reset_token, new_password=NEW_PASSWORD):
    return client.post(
        "/v1/password-resets/completion", json={"reset_token": reset_token, "new_password": new_password}
    )


def reset_token_for(client, pool, email):
    assert request_reset(client, email).status_code == 202
    response = submit_code(client, email, latest_code(pool, email, "password_reset"))
    assert response.status_code == 200, response.json
    return response.json["reset_token"]


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_whole_reset_sets_the_password_and_revokes_every_session(client, identity_pool, unique_email):
    old_token = sign_up(client, identity_pool, unique_email)
    assert request_reset(client, unique_email).json == {"status": "accepted"}
    response = submit_code(client, unique_email, latest_code(identity_pool, unique_email, "password_reset"))
    assert response.status_code == 200
    assert set(response.json) == {"reset_token", "expires_in"} and response.json["expires_in"] == 600
    done = complete(client, response.json["reset_token"])
    assert (done.status_code, done.json) == (200, {"status": "password_updated"})
    assert "access_token" not in done.json
    assert client.get("/v1/accounts/me", headers=bearer(old_token)).status_code == 401
    assert client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).status_code == 401
    fresh = client.post("/v1/sessions", json={"email": unique_email, "password": NEW_PASSWORD})
    assert fresh.status_code == 200
    assert client.get("/v1/accounts/me", headers=bearer(fresh.json["access_token"])).status_code == 200


def test_the_reset_is_announced_with_a_password_reset_event(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    complete(client, reset_token_for(client, identity_pool, unique_email))
    events = account_events(identity_pool, account_id)
    assert [e["type"] for e in events] == [
        "UserRegistered",
        "CodeIssued",
        "AccountVerified",
        "CodeIssued",
        "PasswordReset",
    ]
    reset = events[-1]
    assert reset["data"]["account_id"] == account_id and reset["data"]["email"] == unique_email
    assert reset["data"]["reset_at"].endswith("+00:00")
    assert events[3]["data"]["purpose"] == "password_reset"


def test_reset_answers_the_same_for_known_and_unknown_emails(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    known = request_reset(client, unique_email)
    unknown = request_reset(client, "nobody-" + unique_email)
    assert (
        (known.status_code, known.json)
        == (unknown.status_code, unknown.json)
        == (202, {"status": "accepted"})
    )


def test_a_reset_code_works_once(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    request_reset(client, unique_email)
    code = latest_code(identity_pool, unique_email, "password_reset")
    assert submit_code(client, unique_email, code).status_code == 200
    again = submit_code(client, unique_email, code)
    assert again.status_code == 400 and again.json["type"].endswith("invalid-code")


def test_the_sixth_reset_attempt_is_refused_even_with_the_right_code(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    request_reset(client, unique_email)
    code = latest_code(identity_pool, unique_email, "password_reset")
    outcomes = [submit_code(client, unique_email, wrong(code)).json["type"] for _ in range(5)]
    assert all(outcome.endswith("invalid-code") for outcome in outcomes)
    locked = submit_code(client, unique_email, code)
    assert locked.status_code == 400 and locked.json["type"].endswith("code-locked")


def test_an_expired_reset_code_is_400_code_expired(make_identity, identity_pool, unique_email):
    identity = make_identity()
    client = create_app(identity).test_client()
    sign_up(client, identity_pool, unique_email)
    request_reset(client, unique_email)
    code = latest_code(identity_pool, unique_email, "password_reset")
    real_clock = identity.clock
    identity.clock = lambda: real_clock() + timedelta(minutes=30, seconds=1)
    response = submit_code(client, unique_email, code)
    assert response.status_code == 400 and response.json["type"].endswith("code-expired")


def test_a_new_reset_code_voids_the_old_one(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(resend_cooldown_s=0)).test_client()
    sign_up(client, identity_pool, unique_email)
    request_reset(client, unique_email)
    old = latest_code(identity_pool, unique_email, "password_reset")
    request_reset(client, unique_email)
    new = latest_code(identity_pool, unique_email, "password_reset")
    if new != old:
        assert submit_code(client, unique_email, old).json["type"].endswith("invalid-code")
    assert submit_code(client, unique_email, new).status_code == 200


def test_reset_requests_keep_the_cooldown(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    for _ in range(3):
        assert request_reset(client, unique_email).status_code == 202
    sent = [
        e for e in account_events(identity_pool, account_id) if e["data"].get("purpose") == "password_reset"
    ]
    assert len(sent) == 1


def test_a_reset_code_for_an_unknown_email_is_invalid(client):
    response = submit_code(client, "nobody-at-all@example.org", "123456")
    assert response.status_code == 400 and response.json["type"].endswith("invalid-code")


def test_a_reset_token_works_once(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    reset_token = reset_token_for(client, identity_pool, unique_email)
    assert complete(client, reset_token).status_code == 200
    again = complete(client, reset_token, "Yet-Another-Secret-7!")
    assert again.status_code == 400 and again.json["type"].endswith("invalid-reset-token")


def test_an_expired_reset_token_is_refused(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(reset_token_ttl_s=-1)).test_client()
    sign_up(client, identity_pool, unique_email)
    reset_token = reset_token_for(client, identity_pool, unique_email)
    assert complete(client, reset_token).json["type"].endswith("invalid-reset-token")


def test_an_unknown_reset_token_is_400(client):
    response = complete(client, "made-up")
    assert response.status_code == 400 and response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("new_password", "rules"),
    [
        ("short", {"Use at least 12 characters.", "Include an uppercase letter.", "Include a number."}),
        ("P030710p$E4O", {"This password is too common; choose another."}),
    ],
)
def test_a_weak_new_password_is_422_and_keeps_the_token(
    client, identity_pool, unique_email, new_password, rules
):
    sign_up(client, identity_pool, unique_email)
    reset_token = reset_token_for(client, identity_pool, unique_email)
    response = complete(client, reset_token, new_password)
    assert response.status_code == 422
    listed = set(response.json["errors"]["new_password"])
    assert rules <= listed
    assert complete(client, reset_token).status_code == 200


def test_a_common_new_password_is_refused_as_too_common(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(password_policy="nist")).test_client()
    sign_up(client, identity_pool, unique_email)
    response = complete(client, reset_token_for(client, identity_pool, unique_email), "Password1")
    assert response.status_code == 422
    assert response.json["errors"]["new_password"] == ["This password is too common; choose another."]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/password-resets", {}),
        ("/v1/password-resets", {"email": "nope"}),
        ("/v1/password-resets/verification", {"email": "a@example.org"}),
        ("/v1/password-resets/completion", {"reset_token": "x"}),
        ("/v1/password-resets/completion", {"reset_token": "", "new_password": NEW_PASSWORD}),
        ("/v1/password-resets/completion", {"reset_token": "x", "new_password": NEW_PASSWORD, "extra": 1}),
    ],
)
def test_bad_reset_input_is_422(client, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"


def test_a_reset_lifts_the_login_delay_of_earlier_failures(make_identity, identity_pool, unique_email):
    client = create_app(
        make_identity(login_throttle=LoginThrottle(free_failures=1, base_delay_s=300))
    ).test_client()
    sign_up(client, identity_pool, unique_email)
    client.post("/v1/sessions", json={"email": unique_email, "password": "Forgotten-It-1!"})
    assert client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).status_code == 429
    complete(client, reset_token_for(client, identity_pool, unique_email))
    assert (
        client.post("/v1/sessions", json={"email": unique_email, "password": NEW_PASSWORD}).status_code == 200
    )


def test_the_reset_carries_its_same_site_return_path_to_the_password_reset_event(
    client, identity_pool, unique_email
):
    sign_up(client, identity_pool, unique_email)
    assert (
        client.post(
            "/v1/password-resets", json={"email": unique_email, "return_to": "/videos/42?t=3"}
        ).status_code
        == 202
    )
    code = latest_code(identity_pool, unique_email, "password_reset")
    token = client.post("/v1/password-resets/verification", json={"email": unique_email, "code": code}).json[
        "reset_token"
    ]
    done = client.post(
        "/v1/password-resets/completion", json={"reset_token": token, "new_password": "Brand-New-Secret-42?"}
    )
    assert done.status_code == 200
    [reset] = [e for e in outbox_records(identity_pool, email=unique_email) if e["type"] == "PasswordReset"]
    assert reset["data"]["return_to"] == "/videos/42?t=3"


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "videos/1", "/a b"]
)
def test_a_return_path_off_the_site_is_refused(client, unique_email, elsewhere):
    response = client.post("/v1/password-resets", json={"email": unique_email, "return_to": elsewhere})
    assert response.status_code == 422 and "return_to" in response.json["errors"]
