"""Log in, log out and the caller's account, through identity's HTTP API against the real database."""

import jwt

from identity.domain.limits import LoginThrottle
from identity.entrypoints.app import create_app
from tests.integration.conftest import (
    PASSWORD,
    account_events,
    bearer,
    latest_code,
    register,
    sign_up,
    verify,
)


def login(client, email, password=PASSWORD):
    return client.post("/v1/sessions", json={"email": email, "password": password})


def test_login_answers_a_token_that_opens_me(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    response = login(client, unique_email.upper())
    assert response.status_code == 200
    assert response.json["token_type"] == "Bearer" and response.json["expires_in"] == 900
    me = client.get("/v1/accounts/me", headers=bearer(response.json["access_token"]))
    assert me.status_code == 200
    assert set(me.json) == {"id", "email", "verified", "created_at", "locale", "roles", "second_factor"}
    assert (me.json["roles"], me.json["second_factor"]) == ([], False)
    assert me.json["locale"] == "en"
    assert (me.json["email"], me.json["verified"]) == (unique_email, True)
    claims = jwt.decode(response.json["access_token"], options={"verify_signature": False})
    assert claims["sub"] == me.json["id"] and claims["email_verified"] is True


def test_a_wrong_password_and_an_unknown_email_get_one_generic_401(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    wrong = login(client, unique_email, "Wrong-Horse-9!x")
    unknown = login(client, "nobody-" + unique_email)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.content_type == "application/problem+json"


def test_the_right_password_of_an_unverified_account_is_403(client, unique_email):
    client.post("/v1/accounts", json={"email": unique_email, "password": PASSWORD})
    response = login(client, unique_email)
    assert response.status_code == 403
    assert response.json["type"].endswith("account-not-verified")
    assert login(client, unique_email, "Wrong-Horse-9!x").status_code == 401


def test_logout_revokes_only_that_token(client, identity_pool, unique_email):
    first = sign_up(client, identity_pool, unique_email)
    second = login(client, unique_email).json["access_token"]
    assert client.delete("/v1/sessions/current", headers=bearer(first)).status_code == 204
    assert client.get("/v1/accounts/me", headers=bearer(first)).status_code == 401
    assert client.delete("/v1/sessions/current", headers=bearer(first)).status_code == 401
    assert client.get("/v1/accounts/me", headers=bearer(second)).status_code == 200


def test_requests_without_a_valid_token_are_401_problems(client):
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("not.a.jwt"), bearer("")):
        response = client.get("/v1/accounts/me", headers=headers)
        assert response.status_code == 401
        assert response.content_type == "application/problem+json"
        assert response.json["type"].endswith("invalid-token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_signed_by_someone_else_is_401(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "a-guessed-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    assert client.get("/v1/accounts/me", headers=bearer(forged)).status_code == 401


def test_an_expired_token_is_401(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(access_token_ttl_s=-120)).test_client()
    token = sign_up(client, identity_pool, unique_email)
    assert client.get("/v1/accounts/me", headers=bearer(token)).status_code == 401


def test_repeated_failures_delay_further_logins_for_known_and_unknown_emails_alike(
    make_identity, identity_pool, unique_email
):
    throttle = LoginThrottle(free_failures=2, base_delay_s=30, max_delay_s=120)
    client = create_app(make_identity(login_throttle=throttle)).test_client()
    sign_up(client, identity_pool, unique_email)
    answers = {}
    for email in (unique_email, "nobody-" + unique_email):
        statuses = [login(client, email, "Wrong-Horse-9!x").status_code for _ in range(3)]
        blocked = login(client, email)
        answers[email] = (statuses, blocked.status_code, blocked.json, blocked.headers["Retry-After"])
    known, unknown = answers.values()
    assert known == unknown
    assert known[0] == [401, 401, 429] and known[1] == 429
    assert 1 <= int(known[3]) <= 60


def test_a_successful_login_forgets_earlier_failures(make_identity, identity_pool, unique_email):
    throttle = LoginThrottle(free_failures=2, base_delay_s=30)
    client = create_app(make_identity(login_throttle=throttle)).test_client()
    sign_up(client, identity_pool, unique_email)
    assert login(client, unique_email, "Wrong-Horse-9!x").status_code == 401
    assert login(client, unique_email).status_code == 200
    assert login(client, unique_email, "Wrong-Horse-9!x").status_code == 401
    assert login(client, unique_email).status_code == 200


def test_login_rehashes_a_password_stored_with_older_parameters(make_identity, identity_pool, unique_email):
    old_client = create_app(make_identity(argon2_time_cost=1)).test_client()
    sign_up(old_client, identity_pool, unique_email)
    client = create_app(make_identity(argon2_time_cost=2)).test_client()
    assert login(client, unique_email).status_code == 200
    with identity_pool.connection() as conn:
        stored = conn.execute(
            "SELECT password_hash FROM accounts WHERE email = %s", (unique_email,)
        ).fetchone()
    assert ",t=2," in stored[0]


def test_bad_login_input_is_422(client):
    for body in (
        {},
        {"email": "a@example.org"},
        {"email": "x", "password": "y"},
        {"email": 1, "password": 2},
    ):
        response = client.post("/v1/sessions", json=body)
        assert response.status_code == 422
        assert response.content_type == "application/problem+json"


def test_the_locale_chosen_at_registration_is_the_accounts_and_travels_on_its_events(
    client, identity_pool, unique_email
):
    registration_id = register(client, unique_email, locale="fr")
    token = verify(client, unique_email, registration_id, latest_code(identity_pool, unique_email)).json[
        "access_token"
    ]
    assert client.get("/v1/accounts/me", headers=bearer(token)).json["locale"] == "fr"
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    localised = {e["type"]: e["data"].get("locale") for e in account_events(identity_pool, account_id)}
    assert localised == {"UserRegistered": "fr", "CodeIssued": "fr", "AccountVerified": "fr"}
    assert (
        client.post(
            "/v1/accounts", json={"email": unique_email, "password": PASSWORD, "locale": "de"}
        ).status_code
        == 422
    )
