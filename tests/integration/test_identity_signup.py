"""Sign-up through identity's HTTP API (in-process) against the real database."""

import uuid
from datetime import timedelta

import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from identity.entrypoints.app import create_app
from tests.integration.conftest import PASSWORD, latest_code, mailed_codes, register, verify
from tests.support.outbox import outbox_records


def post_registration(client, email, password=PASSWORD):
    return client.post("/v1/accounts", json={"email": email, "password": password})


def resend(client, email, registration_id):
    return client.post(
        "/v1/accounts/verification/resend", json={"email": email, "registration_id": registration_id}
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def outbox_types(pool, email):
    return [event["type"] for event in outbox_records(pool, email=email)]


def test_registration_answers_202_and_writes_events_to_the_outbox(client, identity_pool, unique_email):
    response = post_registration(client, unique_email.upper())
    assert response.status_code == 202
    body = response.json
    assert uuid.UUID(body.pop("registration_id"))
    assert body == {"status": "verification_pending", "email": unique_email, "code_expires_in": 1800}
    assert outbox_types(identity_pool, unique_email) == ["UserRegistered", "CodeIssued"]


def test_the_emailed_code_verifies_and_logs_the_user_in(client, identity_pool, unique_email):
    registration_id = register(client, unique_email)
    response = verify(client, unique_email, registration_id, latest_code(identity_pool, unique_email))
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
    registration_id = register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    assert verify(client, unique_email, registration_id, code).status_code == 200
    again = verify(client, unique_email, registration_id, code)
    assert again.status_code == 400
    assert again.json["type"].endswith("invalid-code")


def test_a_wrong_code_is_400_invalid_code(client, identity_pool, unique_email):
    registration_id = register(client, unique_email)
    response = verify(client, unique_email, registration_id, wrong(latest_code(identity_pool, unique_email)))
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("invalid-code")


def test_the_sixth_attempt_is_refused_even_with_the_right_code(client, identity_pool, unique_email):
    registration_id = register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    outcomes = [verify(client, unique_email, registration_id, wrong(code)).json["type"] for _ in range(5)]
    assert all(outcome.endswith("invalid-code") for outcome in outcomes)
    locked = verify(client, unique_email, registration_id, code)
    assert locked.status_code == 400
    assert locked.json["type"].endswith("code-locked")


def test_an_expired_code_is_400_code_expired(make_identity, identity_pool, unique_email):
    identity = make_identity()
    client = create_app(identity).test_client()
    registration_id = register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    real_clock = identity.clock
    identity.clock = lambda: real_clock() + timedelta(minutes=30, seconds=1)
    response = verify(client, unique_email, registration_id, code)
    assert response.status_code == 400
    assert response.json["type"].endswith("code-expired")


def test_a_resend_voids_the_old_code(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(resend_cooldown_s=0)).test_client()
    registration_id = register(client, unique_email)
    old = latest_code(identity_pool, unique_email)
    assert resend(client, unique_email, registration_id).status_code == 202
    new = latest_code(identity_pool, unique_email)
    if new != old:
        assert verify(client, unique_email, registration_id, old).json["type"].endswith("invalid-code")
    assert verify(client, unique_email, registration_id, new).status_code == 200


def test_resend_within_the_cooldown_sends_nothing(client, identity_pool, unique_email):
    registration_id = register(client, unique_email)
    assert resend(client, unique_email, registration_id).status_code == 202
    assert outbox_types(identity_pool, unique_email).count("CodeIssued") == 1


def test_the_hourly_cap_limits_resends(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(resend_cooldown_s=0, codes_per_hour=3)).test_client()
    registration_id = register(client, unique_email)
    for _ in range(5):
        resend(client, unique_email, registration_id)
    assert outbox_types(identity_pool, unique_email).count("CodeIssued") == 3


def test_known_and_unknown_emails_get_the_same_answer(client, identity_pool, unique_email):
    sign_up_first = register(client, unique_email)
    verify(client, unique_email, sign_up_first, latest_code(identity_pool, unique_email))
    answers = {}
    for kind, email in (("verified", unique_email), ("new", "other-" + unique_email)):
        response = post_registration(client, email)
        answers[kind] = (response.status_code, set(response.json), response.json["code_expires_in"])
        again = resend(client, email, response.json["registration_id"])
        answers[kind + " resend"] = (again.status_code, again.json)
    assert answers["verified"] == answers["new"]
    assert answers["verified resend"] == answers["new resend"]


def test_registering_a_known_email_does_not_change_its_password(client, identity_pool, unique_email):
    first = register(client, unique_email)
    assert verify(client, unique_email, first, latest_code(identity_pool, unique_email)).status_code == 200
    register(client, unique_email, "Another-Pass-77?")
    assert client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).status_code == 200
    impostor = client.post("/v1/sessions", json={"email": unique_email, "password": "Another-Pass-77?"})
    assert impostor.status_code == 403  # "not verified yet", as for a new email's pending registration
    assert outbox_types(identity_pool, unique_email).count("CodeIssued") == 1  # no code mailed for it


ATTACKER_PASSWORD = "Attacker-Knows-1!"
OWNER_PASSWORD = "Owner-Chose-This-2?"


def owner_enters_mailbox_codes_newest_first(client, pool, email, owner_registration) -> int:
    """What the owner does: try each code in the mailbox, newest first, with their own registration id;
    return how many codes were tried until one worked."""
    for tried, code in enumerate(mailed_codes(pool, email), start=1):
        if verify(client, email, owner_registration, code).status_code == 200:
            return tried
    raise AssertionError("no mailed code verified the owner's registration")


def login_status(client, email, password) -> int:
    return client.post("/v1/sessions", json={"email": email, "password": password}).status_code


@pytest.mark.parametrize("attacker_first", [True, False], ids=["attacker-registers-first", "owner-first"])
def test_only_the_code_of_the_owners_registration_activates_the_owners_password(
    client, identity_pool, unique_email, attacker_first
):
    if attacker_first:
        register(client, unique_email, ATTACKER_PASSWORD)
        owner = register(client, unique_email, OWNER_PASSWORD)
    else:
        owner = register(client, unique_email, OWNER_PASSWORD)
        register(client, unique_email, ATTACKER_PASSWORD)
    assert len(mailed_codes(identity_pool, unique_email)) == 2  # one code mail per registration
    tried = owner_enters_mailbox_codes_newest_first(client, identity_pool, unique_email, owner)
    assert tried == (1 if attacker_first else 2)  # the attacker's code never verified the owner's
    assert login_status(client, unique_email, ATTACKER_PASSWORD) == 401
    assert login_status(client, unique_email, OWNER_PASSWORD) == 200


def test_the_attackers_registration_is_dropped_once_the_owner_verifies(client, identity_pool, unique_email):
    attacker = register(client, unique_email, ATTACKER_PASSWORD)
    attacker_code = latest_code(identity_pool, unique_email)
    owner = register(client, unique_email, OWNER_PASSWORD)
    assert verify(client, unique_email, owner, latest_code(identity_pool, unique_email)).status_code == 200
    # Even holding the code of its own registration (it never could: it went to the owner's mailbox).
    assert verify(client, unique_email, attacker, attacker_code).json["type"].endswith("invalid-code")
    assert login_status(client, unique_email, ATTACKER_PASSWORD) == 401


def test_an_unverified_registration_logs_nobody_in(client, unique_email):
    register(client, unique_email, ATTACKER_PASSWORD)
    response = client.post("/v1/sessions", json={"email": unique_email, "password": ATTACKER_PASSWORD})
    assert response.status_code == 403 and response.json["type"].endswith("account-not-verified")


def code_answers(client, email: str, registration_id: str, code: str, tries: int) -> list[tuple[int, str]]:
    answers = []
    for _ in range(tries):
        response = verify(client, email, registration_id, code)
        answers.append((response.status_code, response.json["type"]))
    return answers


def test_a_known_and_an_unknown_email_walk_through_the_same_code_answers(
    make_identity, identity_pool, unique_email
):
    client = create_app(make_identity(resend_cooldown_s=0)).test_client()
    known = register(client, unique_email)
    assert verify(client, unique_email, known, latest_code(identity_pool, unique_email)).status_code == 200
    sequences = {}
    for kind, email in (("verified", unique_email), ("unknown", "nobody-" + unique_email)):
        registration_id = register(client, email)  # a decoy for the verified email, a real one else
        steps = code_answers(client, email, registration_id, "000000", 7)
        steps.append((resend(client, email, registration_id).status_code, "resend"))
        steps += code_answers(client, email, registration_id, "000000", 5)
        steps += code_answers(client, email, str(uuid.uuid4()), "000000", 2)
        sequences[kind] = steps
    assert sequences["verified"] == sequences["unknown"]
    types = [answer for _status, answer in sequences["verified"]]
    # Five wrong codes per code, then locked; a new code, and the daily cap of ten wrong ones locks all.
    assert [t.rsplit("/", 1)[-1] for t in types[:7]] == ["invalid-code"] * 5 + ["code-locked"] * 2
    assert [t.rsplit("/", 1)[-1] for t in types[8:]] == ["invalid-code"] * 3 + ["code-locked"] * 4


def test_the_daily_cap_of_wrong_codes_is_not_reset_by_a_new_code(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(resend_cooldown_s=0)).test_client()
    registration_id = register(client, unique_email)
    for _ in range(2):
        code_answers(client, unique_email, registration_id, "000000", 5)
        resend(client, unique_email, registration_id)
    right = latest_code(identity_pool, unique_email)
    response = verify(client, unique_email, registration_id, right)
    assert response.status_code == 400 and response.json["type"].endswith("code-locked")


def test_ten_wrong_codes_lock_code_entry_for_a_day_from_the_tenth(make_identity, identity_pool, unique_email):
    identity = make_identity(resend_cooldown_s=0)
    shift, real_clock = [timedelta(0)], identity.clock
    identity.clock = lambda: real_clock() + shift[0]
    client = create_app(identity).test_client()
    registration_id = register(client, unique_email)
    code_answers(client, unique_email, registration_id, "000000", 1)
    shift[0] = timedelta(hours=23, minutes=59)  # the other nine just before a day from the first
    for tries in (5, 4):
        resend(client, unique_email, registration_id)
        code_answers(client, unique_email, registration_id, "000000", tries)

    def right_code_answer(at: timedelta) -> str:
        shift[0] = at
        resend(client, unique_email, registration_id)
        code = latest_code(identity_pool, unique_email)
        return verify(client, unique_email, registration_id, code).json.get("type", "accepted")

    assert right_code_answer(timedelta(hours=24, minutes=1)).endswith("code-locked")
    assert right_code_answer(timedelta(hours=47, minutes=58)).endswith("code-locked")
    assert right_code_answer(timedelta(hours=48)) == "accepted"


def test_a_locked_email_is_told_when_code_entry_opens_again(make_identity, identity_pool, unique_email):
    """The daily lock is no lock of one code: a new code does not help, so the answer says when entry
    opens again (Retry-After, and `retry_after` for a page to show), unlike the five tries of a code."""
    identity = make_identity(resend_cooldown_s=0)
    shift, real_clock = [timedelta(0)], identity.clock
    identity.clock = lambda: real_clock() + shift[0]
    client = create_app(identity).test_client()
    registration_id = register(client, unique_email)
    code_locked = code_answers(client, unique_email, registration_id, "000000", 6)[-1]  # a new code helps
    resend(client, unique_email, registration_id)
    code_answers(client, unique_email, registration_id, "000000", 4)  # the tenth wrong code locks the email
    shift[0] = timedelta(hours=1)
    resend(client, unique_email, registration_id)
    email_locked = verify(client, unique_email, registration_id, latest_code(identity_pool, unique_email))
    assert code_locked[1].endswith("code-locked")
    assert email_locked.status_code == 400 and email_locked.json["type"].endswith("code-locked")
    wait = int(email_locked.headers["Retry-After"])
    assert 23 * 3600 - 60 <= wait <= 23 * 3600 + 1 and email_locked.json["retry_after"] == wait
    assert "try again" in email_locked.json["detail"].lower()


def test_a_weak_password_lists_every_broken_rule(client, unique_email):
    response = post_registration(client, unique_email, "short")
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
        {"email": "a@example.org", "registration_id": str(uuid.uuid4())},
        {"email": "a@example.org", "registration_id": str(uuid.uuid4()), "code": 123456},
        {"email": "a@example.org", "registration_id": str(uuid.uuid4()), "code": ""},
        {"email": "a@example.org", "registration_id": str(uuid.uuid4()), "code": "12345"},
        {"email": "a@example.org", "registration_id": "not-a-uuid", "code": "123456"},
        {"email": "a@example.org", "code": "123456"},
    ],
)
def test_bad_verification_input_is_422(client, body):
    response = client.post("/v1/accounts/verification", json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_unknown_routes_and_methods_are_problems(client):
    assert client.get("/v1/nothing-here").content_type == "application/problem+json"
    assert client.delete("/v1/accounts/verification").status_code == 405


def registrations_counted(client) -> float:  # type: ignore[no-untyped-def]
    """How many POST /v1/accounts answered 422 the metrics have counted so far."""
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "http_request_duration_seconds_count"
                and labels.get("status") == "422"
                and (
                    labels.get("method"),
                    labels.get("route"),
                )
                == ("POST", "/v1/accounts")
            ):
                return sample.value
    return 0.0


def test_health_readiness_metrics_and_openapi(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json == {"status": "ready", "checks": {"database": True, "migrations": True}}
    before = registrations_counted(client)
    client.post("/v1/accounts", json={})
    assert registrations_counted(client) == before + 1
    paths = client.get("/openapi.json").json["paths"]
    assert {"/v1/accounts", "/v1/accounts/verification", "/v1/accounts/verification/resend"} <= set(paths)


def test_one_mailbox_is_one_account_however_its_domain_is_spelt(client, identity_pool):
    local = f"user-{uuid.uuid4().hex[:8]}"
    first = post_registration(client, f"{local}@bücher.example")
    again = post_registration(client, f"{local.upper()}@XN--BCHER-KVA.example")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json["email"] == again.json["email"] == f"{local}@bücher.example"
    with identity_pool.connection() as conn:
        count = conn.execute("SELECT count(*) FROM accounts WHERE email = %s", (f"{local}@bücher.example",))
        assert count.fetchone()[0] == 1


@pytest.mark.parametrize("hidden", ["\u200b", "\u200d", "\u202e", "\x07"])
def test_control_and_invisible_characters_in_an_email_are_refused(client, hidden):
    response = post_registration(client, f"user{hidden}name@example.org")
    assert response.status_code == 422 and "email" in response.json["errors"]


@pytest.mark.parametrize(
    "local_and_domain",
    [
        ("\u0130smail-{}", "example.org"),
        ("\u0938\u094d\u0935\u093e\u0917\u0924-{}", "example.org"),
        ("u-{}", "x.y"),
    ],
    ids=["turkish-capital-i", "hindi-combining-marks", "one-letter-tld"],
)
def test_an_address_identity_accepts_is_one_its_events_accept(client, identity_pool, local_and_domain):
    """email-validator takes these and marshmallow's Email pattern does not: the events must too."""
    local, domain = local_and_domain
    email = f"{local.format(uuid.uuid4().hex[:8])}@{domain}"
    registration_id = register(client, email)
    code = latest_code(identity_pool, email.lower())
    assert verify(client, email, registration_id, code).status_code == 200
