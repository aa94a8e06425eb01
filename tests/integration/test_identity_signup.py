"""Sign-up through identity's HTTP API (in-process) against the real database."""

from datetime import timedelta

import jwt
import pytest

from identity.entrypoints.app import create_app
from tests.integration.conftest import latest_code

PASSWORD = "Correct-Horse-9!"


def register(client, email, password=PASSWORD):
    return client.post("/v1/accounts", json={"email": email, "password": password})


def verify(client, email, code):
    return client.post("/v1/accounts/verification", json={"email": email, "code": code})


def outbox_types(pool, email):
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT record_value::jsonb ->> 'type' FROM outbox "
            "WHERE record_value::jsonb -> 'data' ->> 'email' = %s ORDER BY id",
            (email,),
        ).fetchall()
    return [row[0] for row in rows]


def test_registration_answers_202_and_writes_events_to_the_outbox(client, identity_pool, unique_email):
    response = register(client, unique_email.upper())
    assert response.status_code == 202
    assert response.json == {"status": "verification_pending", "email": unique_email, "code_expires_in": 1800}
    assert outbox_types(identity_pool, unique_email) == ["UserRegistered", "CodeIssued"]


def test_the_emailed_code_verifies_and_logs_the_user_in(client, identity_pool, unique_email):
    register(client, unique_email)
    response = verify(client, unique_email, latest_code(identity_pool, unique_email))
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["token_type"]) == ("verified", "Bearer")
    jwks = client.get("/.well-known/jwks.json").json
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(body["access_token"], key, algorithms=["EdDSA"])
    assert claims["email"] == unique_email and claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert outbox_types(identity_pool, unique_email) == ["UserRegistered", "CodeIssued", "AccountVerified"]


def test_a_code_works_once(client, identity_pool, unique_email):
    register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    assert verify(client, unique_email, code).status_code == 200
    again = verify(client, unique_email, code)
    assert again.status_code == 400
    assert again.json["type"].endswith("invalid-code")


def test_a_wrong_code_is_400_invalid_code(client, identity_pool, unique_email):
    register(client, unique_email)
    wrong = f"{(int(latest_code(identity_pool, unique_email)) + 1) % 1_000_000:06d}"
    response = verify(client, unique_email, wrong)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("invalid-code")


def test_the_sixth_attempt_is_refused_even_with_the_right_code(client, identity_pool, unique_email):
    register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    outcomes = [verify(client, unique_email, wrong).json["type"] for _ in range(5)]
    assert all(outcome.endswith("invalid-code") for outcome in outcomes)
    locked = verify(client, unique_email, code)
    assert locked.status_code == 400
    assert locked.json["type"].endswith("code-locked")


def test_an_expired_code_is_400_code_expired(make_identity, identity_pool, unique_email):
    identity = make_identity()
    client = create_app(identity).test_client()
    register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    real_clock = identity.clock
    identity.clock = lambda: real_clock() + timedelta(minutes=30, seconds=1)
    response = verify(client, unique_email, code)
    assert response.status_code == 400
    assert response.json["type"].endswith("code-expired")


def test_a_resend_voids_the_old_code(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(resend_cooldown_s=0)).test_client()
    register(client, unique_email)
    old = latest_code(identity_pool, unique_email)
    assert client.post("/v1/accounts/verification/resend", json={"email": unique_email}).status_code == 202
    new = latest_code(identity_pool, unique_email)
    if new != old:
        assert verify(client, unique_email, old).json["type"].endswith("invalid-code")
    assert verify(client, unique_email, new).status_code == 200


def test_resend_within_the_cooldown_sends_nothing(client, identity_pool, unique_email):
    register(client, unique_email)
    assert client.post("/v1/accounts/verification/resend", json={"email": unique_email}).status_code == 202
    assert outbox_types(identity_pool, unique_email).count("CodeIssued") == 1


def test_the_hourly_cap_limits_resends(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(resend_cooldown_s=0, codes_per_hour=3)).test_client()
    register(client, unique_email)
    for _ in range(5):
        client.post("/v1/accounts/verification/resend", json={"email": unique_email})
    assert outbox_types(identity_pool, unique_email).count("CodeIssued") == 3


def test_known_and_unknown_emails_get_the_same_answer(client, unique_email):
    register(client, unique_email)
    again = register(client, unique_email)
    fresh = register(client, "other-" + unique_email)
    assert (again.status_code, again.json | {"email": ""}) == (fresh.status_code, fresh.json | {"email": ""})
    resend_known = client.post("/v1/accounts/verification/resend", json={"email": unique_email})
    resend_unknown = client.post("/v1/accounts/verification/resend", json={"email": "nobody-" + unique_email})
    assert (resend_known.status_code, resend_known.json) == (resend_unknown.status_code, resend_unknown.json)


def test_registering_a_known_email_does_not_change_its_password(client, identity_pool, unique_email):
    register(client, unique_email)
    register(client, unique_email, "Another-Pass-77?")
    with identity_pool.connection() as conn:
        count = conn.execute("SELECT count(*) FROM accounts WHERE email = %s", (unique_email,)).fetchone()[0]
    assert count == 1


def test_a_weak_password_lists_every_broken_rule(client, unique_email):
    response = register(client, unique_email, "short")
    assert response.status_code == 422
    assert response.json["errors"]["password"] == [
        "Use at least 12 characters.",
        "Include an uppercase letter.",
        "Include a number.",
        "Include a symbol, such as ! ? # or %.",
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fields"),
    [
        ('{"email": "a@example.org", "password": ', "application/json", 400, None),
        ("[1, 2, 3]", "application/json", 400, None),
        ('"just a string"', "application/json", 400, None),
        ("{}", "application/json", 422, {"email", "password"}),
        ('{"email": 42, "password": ["x"]}', "application/json", 422, {"email", "password"}),
        ('{"email": "not-an-email", "password": "Correct-Horse-9!"}', "application/json", 422, {"email"}),
        (
            '{"email": "a@example.org", "password": "Correct-Horse-9!", "admin": true}',
            "application/json",
            422,
            {"admin"},
        ),
        ("email=a@example.org", "application/x-www-form-urlencoded", 422, {"email", "password"}),
        ('{"email": "a@example.org", "password": "' + "A1!a" * 40_000 + '"}', "application/json", 413, None),
    ],
)
def test_bad_input_is_a_4xx_problem_never_a_500(client, body, content_type, status, fields):
    response = client.post("/v1/accounts", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == status and response.json["title"] and response.json["type"]
    if fields:
        assert set(response.json["errors"]) == fields


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.org"},
        {"email": "a@example.org", "code": 123456},
        {"email": "a@example.org", "code": ""},
    ],
)
def test_bad_verification_input_is_422(client, body):
    response = client.post("/v1/accounts/verification", json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_unknown_routes_and_methods_are_problems(client):
    assert client.get("/v1/nothing-here").content_type == "application/problem+json"
    assert client.delete("/v1/accounts/verification").status_code == 405


def test_health_readiness_metrics_and_openapi(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json == {"status": "ready", "checks": {"database": True}}
    client.post("/v1/accounts", json={})
    assert b"http_request_duration_seconds" in client.get("/metrics").data
    paths = client.get("/openapi.json").json["paths"]
    assert {"/v1/accounts", "/v1/accounts/verification", "/v1/accounts/verification/resend"} <= set(paths)
