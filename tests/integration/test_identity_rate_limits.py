"""Rate limits kept in PostgreSQL: per IP, per email where that leaks nothing, and X-Forwarded-For."""

import dataclasses
import uuid

from identity.domain.limits import Limit, LoginThrottle
from identity.entrypoints.app import create_app
from identity.settings import RateLimits
from tests.integration.conftest import PASSWORD, sign_up


def limits(**changed: Limit) -> RateLimits:
    return dataclasses.replace(RateLimits.generous(), **changed)


def address() -> str:
    """An address of its own for each test, so tests never share a bucket."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def client_from(identity, ip=None):  # type: ignore[no-untyped-def]
    client = create_app(identity).test_client()
    client.environ_base["REMOTE_ADDR"] = ip or address()
    return client


def assert_rate_limited(response, window_s):  # type: ignore[no-untyped-def]
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("rate-limited")
    assert 1 <= int(response.headers["Retry-After"]) <= window_s


def test_registration_is_limited_per_ip(make_identity, unique_email):
    identity = make_identity(rate_limits=limits(register_per_ip=Limit(2, 60)))
    client = client_from(identity)
    statuses = [
        client.post("/v1/accounts", json={"email": f"{n}-{unique_email}", "password": PASSWORD}).status_code
        for n in range(2)
    ]
    assert statuses == [202, 202]
    blocked = client.post("/v1/accounts", json={"email": f"3-{unique_email}", "password": PASSWORD})
    assert_rate_limited(blocked, 60)
    other = client_from(identity)
    assert (
        other.post("/v1/accounts", json={"email": f"4-{unique_email}", "password": PASSWORD}).status_code
        == 202
    )


def test_per_email_limits_answer_alike_for_known_and_unknown_emails(
    make_identity, identity_pool, unique_email
):
    identity = make_identity(rate_limits=limits(reset_per_email=Limit(2, 60), resend_per_email=Limit(2, 60)))
    sign_up(client_from(identity), identity_pool, unique_email)
    for path in ("/v1/password-resets", "/v1/accounts/verification/resend"):
        answers = []
        for email in (unique_email, "nobody-" + unique_email):
            client = client_from(identity)  # a new address each time: only the email bucket counts
            body = {"email": email, **({"registration_id": str(uuid.uuid4())} if "resend" in path else {})}
            responses = [client.post(path, json=body) for _ in range(3)]
            answers.append(
                [(r.status_code, r.json["type"] if r.status_code == 429 else r.json) for r in responses]
            )
        assert answers[0] == answers[1]
        assert [status for status, _ in answers[0]] == [202, 202, 429]


def test_code_entry_is_limited_per_ip_and_per_email(make_identity, unique_email):
    identity = make_identity(rate_limits=limits(code_per_ip=Limit(3, 60), code_per_email=Limit(2, 60)))
    client = client_from(identity)
    body = {"email": unique_email, "registration_id": str(uuid.uuid4()), "code": "000000"}
    statuses = [client.post("/v1/accounts/verification", json=body).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    other_email = {"email": "other-" + unique_email, "code": "000000"}
    assert_rate_limited(client.post("/v1/password-resets/verification", json=other_email), 60)


def test_login_is_limited_per_ip(make_identity, identity_pool, unique_email):
    identity = make_identity(rate_limits=limits(login_per_ip=Limit(2, 60)))
    sign_up(client_from(identity), identity_pool, unique_email)
    client = client_from(identity)
    body = {"email": unique_email, "password": PASSWORD}
    assert [client.post("/v1/sessions", json=body).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(client.post("/v1/sessions", json=body), 60)


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(make_identity, unique_email):
    def registrations(identity):  # type: ignore[no-untyped-def]
        client = client_from(identity, ip="192.0.2.10")
        return [
            client.post(
                "/v1/accounts",
                json={"email": f"{n}-{uuid.uuid4().hex[:6]}-{unique_email}", "password": PASSWORD},
                headers={"X-Forwarded-For": address()},
            ).status_code
            for n in range(3)
        ]

    tight = limits(register_per_ip=Limit(2, 60))
    assert registrations(make_identity(rate_limits=tight)) == [202, 202, 429]
    assert registrations(make_identity(rate_limits=tight, trusted_proxy_hops=1)) == [202, 202, 202]


def test_a_window_starts_afresh_once_it_has_passed(make_identity, identity_pool, unique_email):
    identity = make_identity(rate_limits=limits(resend_per_ip=Limit(1, 60)))
    ip = address()
    client = client_from(identity, ip)
    body = {"email": unique_email, "registration_id": str(uuid.uuid4())}
    assert client.post("/v1/accounts/verification/resend", json=body).status_code == 202
    assert client.post("/v1/accounts/verification/resend", json=body).status_code == 429
    with identity_pool.connection() as conn:
        conn.execute(
            "UPDATE rate_limits SET window_started_at = now() - interval '61 seconds' WHERE bucket = %s",
            (identity.limiter.bucket("resend:per_ip", ip),),
        )
    assert client.post("/v1/accounts/verification/resend", json=body).status_code == 202


def test_reset_completion_is_limited_per_ip(make_identity):
    client = client_from(make_identity(rate_limits=limits(completion_per_ip=Limit(1, 60))))
    body = {"reset_token": "made-up", "new_password": "Brand-New-Secret-42?"}
    assert client.post("/v1/password-resets/completion", json=body).status_code == 400
    assert_rate_limited(client.post("/v1/password-resets/completion", json=body), 60)


def test_wrong_passwords_for_deletion_are_throttled_like_logins(make_identity, identity_pool, unique_email):
    identity = make_identity(login_throttle=LoginThrottle(free_failures=2, base_delay_s=30))
    client = client_from(identity)
    token = sign_up(client, identity_pool, unique_email)
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [
        client.delete("/v1/accounts/me", json={"password": "Not-Mine-123!"}, headers=headers).status_code
        for _ in range(3)
    ]
    assert statuses == [403, 403, 429]
    assert_rate_limited(client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=headers), 30)
