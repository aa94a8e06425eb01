"""Staff through identity's API against the real database: the second factor (TOTP, recovery codes),
roles granted from the command line and by an admin, and the events and audit records they leave."""

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from string import ascii_lowercase
from uuid import uuid4

import jwt
import pyotp
import pytest

from accounts_common.events import validate_data
from accounts_common.roles import Role
from identity.adapters import audit_log as audit_log_sql
from identity.domain.limits import Limit, LoginThrottle
from identity.entrypoints.app import create_app
from identity.service_layer import accounts, audit_log, sessions, staff
from identity.settings import RateLimits
from tests.integration.conftest import (
    PASSWORD,
    account_events,
    bearer,
    identity_on_test_clock,
    mailed_codes,
    reset_password,
    sign_up,
    then_deleted,
)
from tests.support.outbox import outbox_events, outbox_records

identity = pytest.fixture(identity_on_test_clock, name="identity")


def login(client, email, **extra):
    return client.post("/v1/sessions", json={"email": email, "password": PASSWORD, **extra})


def enrol(client, token, clock, password=PASSWORD):
    """Enrol TOTP on the token's account (whose password it is); its secret and recovery codes."""
    started = client.post("/v1/accounts/me/totp", json={"password": password}, headers=bearer(token))
    assert started.status_code == 201, started.json
    secret = started.json["secret"]
    confirmed = client.post(
        "/v1/accounts/me/totp/verification",
        json={"code": pyotp.TOTP(secret).at(clock())},
        headers=bearer(token),
    )
    assert confirmed.status_code == 200, confirmed.json
    return secret, confirmed.json["recovery_codes"]


def otp_login(client, email, secret, clock):
    response = login(client, email, totp=pyotp.TOTP(secret).at(clock.next_step()))
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_enrolment_gives_a_secret_an_otpauth_uri_and_ten_recovery_codes(
    client, identity_pool, unique_email, clock
):
    token = sign_up(client, identity_pool, unique_email)
    started = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token))
    assert started.json["otpauth_uri"].startswith("otpauth://totp/Multimedia%20Accounts:")
    wrong = client.post("/v1/accounts/me/totp/verification", json={"code": "000000"}, headers=bearer(token))
    assert wrong.status_code == 401 and wrong.json["type"].endswith("invalid-second-factor")
    operation = client.get("/openapi.json").json["paths"]["/v1/accounts/me/totp/verification"]["post"]
    assert "invalid-second-factor" in operation["responses"]["401"]["description"]
    code = pyotp.TOTP(started.json["secret"]).at(clock())
    confirmed = client.post("/v1/accounts/me/totp/verification", json={"code": code}, headers=bearer(token))
    assert len(set(confirmed.json["recovery_codes"])) == 10
    again = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token))
    assert again.status_code == 409 and again.json["type"].endswith("totp-already-enrolled")


def test_enrolling_a_second_factor_takes_the_accounts_password_not_a_token_alone(
    client, identity_pool, unique_email
):
    """A token alone (a session left open, a copied cookie) must not tie the account to an app of
    someone else's: from then on its owner could not log in without a code they never had."""
    token = sign_up(client, identity_pool, unique_email)
    without = client.post("/v1/accounts/me/totp", headers=bearer(token))
    assert without.status_code == 422 and "password" in without.json["errors"], without.json
    wrong = client.post(
        "/v1/accounts/me/totp", json={"password": "Not-the-password-1"}, headers=bearer(token)
    )
    assert wrong.status_code == 403 and wrong.json["type"].endswith("wrong-password"), wrong.json
    assert login(client, unique_email).status_code == 200  # no second factor was started, nor asked for
    right = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token))
    assert right.status_code == 201
    operation = client.get("/openapi.json").json["paths"]["/v1/accounts/me/totp"]["post"]
    assert "wrong-password" in operation["responses"]["403"]["description"]


def test_an_account_deleted_once_its_password_was_confirmed_enrols_nothing_and_answers_401(
    client, identity_pool, unique_email, monkeypatch
):
    token = sign_up(client, identity_pool, unique_email)
    monkeypatch.setattr(accounts, "confirm_owner", then_deleted(identity_pool, accounts.confirm_owner))
    started = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token))
    assert started.status_code == 401 and started.content_type == "application/problem+json"


def test_an_account_deleted_once_its_token_was_checked_confirms_nothing_and_answers_401(
    client, identity_pool, unique_email, clock, monkeypatch
):
    token = sign_up(client, identity_pool, unique_email)
    started = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token))
    monkeypatch.setattr(sessions, "authenticate", then_deleted(identity_pool, sessions.authenticate))
    code = pyotp.TOTP(started.json["secret"]).at(clock())
    confirmed = client.post("/v1/accounts/me/totp/verification", json={"code": code}, headers=bearer(token))
    assert confirmed.status_code == 401 and confirmed.content_type == "application/problem+json"


def test_the_secret_is_sealed_at_rest(client, identity_pool, unique_email, clock):
    token = sign_up(client, identity_pool, unique_email)
    secret, _ = enrol(client, token, clock)
    with identity_pool.connection() as conn:
        [sealed] = conn.execute(
            "SELECT secret_sealed FROM totp_credentials t JOIN accounts a ON a.id = t.account_id "
            "WHERE a.email = %s",
            (unique_email,),
        ).fetchone()
    assert secret not in sealed


def test_an_enrolled_account_needs_its_code_and_each_code_works_once(
    client, identity_pool, unique_email, clock
):
    token = sign_up(client, identity_pool, unique_email)
    secret, _ = enrol(client, token, clock)
    without = login(client, unique_email)
    assert without.status_code == 401 and without.json["type"].endswith("mfa-required")
    code = pyotp.TOTP(secret).at(clock.next_step())
    first = login(client, unique_email, totp=code)
    assert first.status_code == 200
    assert claims(first.json["access_token"])["amr"] == ["pwd", "otp"]
    replayed = login(client, unique_email, totp=code)
    assert replayed.status_code == 401 and replayed.json["type"].endswith("invalid-second-factor")


def test_a_recovery_code_logs_in_once(client, identity_pool, unique_email, clock):
    token = sign_up(client, identity_pool, unique_email)
    _, recovery_codes = enrol(client, token, clock)
    first = login(client, unique_email, totp=recovery_codes[3].upper())
    assert first.status_code == 200 and claims(first.json["access_token"])["amr"] == ["pwd", "otp"]
    assert login(client, unique_email, totp=recovery_codes[3]).status_code == 401


def test_wrong_codes_are_throttled_even_with_the_right_password(
    make_identity, identity_pool, unique_email, clock
):
    app = make_identity(login_throttle=LoginThrottle(free_failures=2, base_delay_s=30))
    app.clock = clock
    client = create_app(app).test_client()
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    statuses = [login(client, unique_email, totp="000000").status_code for _ in range(2)]
    blocked = login(client, unique_email, totp=pyotp.TOTP(secret).at(clock.next_step()))
    assert statuses == [401, 401]
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


def test_a_role_from_the_command_line_ends_sessions_and_is_announced(
    identity, client, identity_pool, unique_email, clock
):
    token = sign_up(client, identity_pool, unique_email)
    assert staff.grant(identity, unique_email, Role.ADMIN) is True
    assert client.get("/v1/accounts/me", headers=bearer(token)).status_code == 401
    account_id = claims(token)["sub"]
    [granted] = [e for e in account_events(identity_pool, account_id) if e["type"] == "StaffRoleGranted"]
    assert granted["data"]["role"] == "admin" and granted["data"]["actor_account_id"] is None
    [audit] = [r for r in audit_records(identity_pool, "cli") if account_id in r["data"]["target"]]
    assert audit["data"]["action"] == "staff.role-granted" and audit["data"]["via"] == "cli"
    assert audit["data"]["target"] == f"admin → {account_id}"
    assert staff.grant(identity, unique_email, Role.ADMIN) is False


def test_roles_count_in_a_token_only_with_the_second_factor(
    identity, client, identity_pool, unique_email, clock
):
    token = sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.ADMIN)
    without_otp = login(client, unique_email).json["access_token"]
    assert claims(without_otp)["roles"] == ["admin"] and claims(without_otp)["amr"] == ["pwd"]
    refused = client.get("/v1/staff", headers=bearer(without_otp))
    assert refused.status_code == 403 and refused.json["type"].endswith("second-factor-required")
    secret, _ = enrol(client, without_otp, clock)
    admin = otp_login(client, unique_email, secret, clock)
    listed = client.get("/v1/staff", headers=bearer(admin))
    assert listed.status_code == 200
    [me] = [m for m in listed.json["staff"] if m["email"] == unique_email]
    assert me["roles"] == ["admin"] and me["mfa_enrolled"] is True
    assert token != admin


def test_an_admin_grants_and_revokes_and_others_are_refused(
    identity, client, identity_pool, unique_email, clock
):
    other = "support-" + unique_email
    plain = sign_up(client, identity_pool, other)
    sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.ADMIN)
    secret, _ = enrol(client, login(client, unique_email).json["access_token"], clock)
    admin = otp_login(client, unique_email, secret, clock)
    change = {"email": other, "role": "support"}
    assert client.post("/v1/staff/grants", json=change).status_code == 401
    refused = client.post("/v1/staff/grants", json=change, headers=bearer(plain))
    assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    granted = client.post("/v1/staff/grants", json=change, headers=bearer(admin))
    assert granted.status_code == 200 and granted.json == {**change, "changed": True}
    assert claims(login(client, other).json["access_token"])["roles"] == ["support"]
    revoked = client.post("/v1/staff/revocations", json=change, headers=bearer(admin))
    assert revoked.json["changed"] is True
    assert "roles" not in claims(login(client, other).json["access_token"])
    unknown = client.post(
        "/v1/staff/grants", json={**change, "email": "nobody-" + other}, headers=bearer(admin)
    )
    assert unknown.status_code == 404
    admin_id = claims(admin)["sub"]
    actions = [(r["data"]["action"], r["data"]["outcome"]) for r in audit_records(identity_pool, admin_id)]
    assert actions[-3:] == [
        ("staff.role-granted", "ok"),
        ("staff.role-revoked", "ok"),
        ("staff.role-granted", "refused"),
    ]


def audit_records(pool, subject):
    return outbox_records(pool, topic="audit.operator-actions.v1", key=subject)


def support_member(identity, client, identity_pool, email, clock):
    """The Authorization header of a new support member logged in with the second factor."""
    sign_up(client, identity_pool, email)
    staff.grant(identity, email, Role.SUPPORT)
    secret, _ = enrol(client, login(client, email).json["access_token"], clock)
    return bearer(otp_login(client, email, secret, clock))


def test_support_looks_up_resends_and_erases_and_each_is_audited(
    identity, client, identity_pool, unique_email, clock
):
    support = support_member(identity, client, identity_pool, "helper-" + unique_email, clock)
    pending = "pending-" + unique_email
    client.post("/v1/accounts", json={"email": pending, "password": PASSWORD})
    sign_up(client, identity_pool, unique_email)

    found = client.get("/v1/support/accounts", query_string={"email": unique_email}, headers=support)
    assert found.status_code == 200
    assert (found.json["verified"], found.json["roles"], found.json["mfa_enrolled"]) == (True, [], False)
    missing = client.get(
        "/v1/support/accounts", query_string={"email": "nobody-" + unique_email}, headers=support
    )
    assert missing.status_code == 404
    clock.now += timedelta(minutes=2)  # past the code's resend cooldown
    resent = client.post("/v1/support/accounts/code-resends", json={"email": pending}, headers=support)
    assert resent.status_code == 202 and resent.json == {"pending": True}
    assert len(mailed_codes(identity_pool, pending)) == 2
    verified = client.post("/v1/support/accounts/code-resends", json={"email": unique_email}, headers=support)
    assert verified.json == {"pending": False}
    erasure = {"email": unique_email, "reason": "asked by phone, ticket 4521"}
    assert client.post("/v1/support/accounts/erasures", json=erasure, headers=support).status_code == 204
    gone = client.get("/v1/support/accounts", query_string={"email": unique_email}, headers=support)
    assert gone.status_code == 404

    support_id = claims(support["Authorization"].split()[1])["sub"]
    actions = [(r["data"]["action"], r["data"]["outcome"]) for r in audit_records(identity_pool, support_id)]
    assert actions == [
        ("account.looked-up", "ok"),
        ("account.looked-up", "unchanged"),
        ("account.code-resent", "ok"),
        ("account.code-resent", "refused"),
        ("account.erased", "ok"),
        ("account.looked-up", "unchanged"),
    ]
    targets = [r["data"]["target"] for r in audit_records(identity_pool, support_id)]
    assert not [target for target in targets if "@" in target]  # ids, never an email


def test_support_cannot_erase_an_account_that_holds_a_role(
    identity, client, identity_pool, unique_email, clock
):
    support = support_member(identity, client, identity_pool, "helper-" + unique_email, clock)
    sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.ADMIN)

    erasure = {"email": unique_email, "reason": "asked by phone, ticket 4522"}
    refused = client.post("/v1/support/accounts/erasures", json=erasure, headers=support)
    assert refused.status_code == 409 and refused.json["type"].endswith("staff-account")
    found = client.get("/v1/support/accounts", query_string={"email": unique_email}, headers=support)
    assert found.status_code == 200 and found.json["roles"] == ["admin"]
    support_id = claims(support["Authorization"].split()[1])["sub"]
    outcomes = [(r["data"]["action"], r["data"]["outcome"]) for r in audit_records(identity_pool, support_id)]
    assert ("account.erased", "refused") in outcomes
    staff.revoke(identity, unique_email, Role.ADMIN)
    assert client.post("/v1/support/accounts/erasures", json=erasure, headers=support).status_code == 204


def test_only_support_staff_with_a_second_factor_reach_the_support_endpoints(
    identity, client, identity_pool, unique_email
):
    plain = bearer(sign_up(client, identity_pool, unique_email))
    query = {"email": unique_email}
    assert client.get("/v1/support/accounts", query_string=query).status_code == 401
    refused = client.get("/v1/support/accounts", query_string=query, headers=plain)
    assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    staff.grant(identity, unique_email, Role.SUPPORT)
    without_otp = bearer(login(client, unique_email).json["access_token"])
    refused = client.post("/v1/support/accounts/code-resends", json=query, headers=without_otp)
    assert refused.status_code == 403 and refused.json["type"].endswith("second-factor-required")


def project_audit_outbox(pool) -> None:
    """What `identity audit-log` does with each record the relay publishes (the e2e and browser tests
    run the real process): the outbox's audit events go through the projection's handler."""
    events = outbox_events(pool, topic="audit.operator-actions.v1")
    with pool.connection() as conn:
        for event in events:
            audit_log.keep_action(conn, event, validate_data(event.type, event.data))
            audit_log.keep_action(conn, event, validate_data(event.type, event.data))  # redelivered


def test_admins_read_the_audit_trail_by_person_action_and_time(
    identity, client, identity_pool, unique_email, clock
):
    helper = "helper-" + unique_email
    sign_up(client, identity_pool, helper)
    sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.ADMIN)
    staff.grant(identity, helper, Role.SUPPORT)
    secret, _ = enrol(client, login(client, unique_email).json["access_token"], clock)
    admin = bearer(otp_login(client, unique_email, secret, clock))
    support_secret, _ = enrol(client, login(client, helper).json["access_token"], clock)
    support = bearer(otp_login(client, helper, support_secret, clock))
    helper_id = client.get("/v1/accounts/me", headers=support).json["id"]
    client.get("/v1/support/accounts", query_string={"email": unique_email}, headers=support)
    client.post("/v1/staff/revocations", json={"email": helper, "role": "support"}, headers=admin)
    project_audit_outbox(identity_pool)

    by_helper = client.get("/v1/audit", query_string={"actor": helper.upper()}, headers=admin)
    assert by_helper.status_code == 200, by_helper.json
    [looked_up] = by_helper.json["items"]
    looked_up_id = client.get("/v1/accounts/me", headers=admin).json["id"]
    assert (looked_up["action"], looked_up["target"], looked_up["actor_email"]) == (
        "account.looked-up",
        looked_up_id,
        helper,
    )
    assert (looked_up["source"], looked_up["via"], looked_up["outcome"]) == ("/identity", "api", "ok")
    # The trail outlives an erasure: a role change names the account by its id, never its email.
    revoked = client.get("/v1/audit", query_string={"action": "staff.role-revoked"}, headers=admin).json
    assert [(e["actor_email"], e["target"]) for e in revoked["items"]][0] == (
        unique_email,
        f"support → {helper_id}",
    )
    from_cli = client.get(
        "/v1/audit", query_string={"action": "staff.role-granted", "per_page": 100}, headers=admin
    )
    assert {"actor_email": None, "via": "cli", "target": f"support → {helper_id}"}.items() <= next(
        e for e in from_cli.json["items"] if e["target"] == f"support → {helper_id}"
    ).items()
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    nothing_yet = {"items": [], "total": 0, "page": 1, "per_page": 100}
    assert (
        nothing_yet.items()
        <= client.get("/v1/audit", query_string={"since": later}, headers=admin).json.items()
    )
    assert client.get("/v1/audit", query_string={"until": later, "actor": helper}, headers=admin).json[
        "items"
    ]

    assert client.get("/v1/audit").status_code == 401
    refused = client.get("/v1/audit", headers=bearer(otp_login(client, helper, support_secret, clock)))
    assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    bad_queries = ({"action": "DROP TABLE"}, {"since": "yesterday"}, {"page": 0}, {"page": 10_001})
    for bad in (*bad_queries, {"per_page": 101}, {"limit": 100}, {"unknown": 1}):
        assert client.get("/v1/audit", query_string=bad, headers=admin).status_code == 422, bad


def admin_and_person(identity, client, identity_pool, admin_email, person, clock):  # type: ignore[no-untyped-def]
    """The headers of an admin (`admin_email`, logged in with the second factor) and the id of another
    account, `person`'s."""
    person_token = sign_up(client, identity_pool, person)
    person_id = client.get("/v1/accounts/me", headers=bearer(person_token)).json["id"]
    sign_up(client, identity_pool, admin_email)
    staff.grant(identity, admin_email, Role.ADMIN)
    secret, _ = enrol(client, login(client, admin_email).json["access_token"], clock)
    return bearer(otp_login(client, admin_email, secret, clock)), person_id


def test_the_trail_of_a_person_is_found_by_their_address_as_an_admin_types_it(
    identity, client, identity_pool, unique_email, clock
):
    """A French address with its capital letter (Élodie), or its accent typed apart (e + ´, NFD), is the
    address identity keeps in lower case and NFC: its person's actions are found, as the console's
    Person field promises, not "No action matches"."""
    person = "élodie-" + unique_email
    admin, person_id = admin_and_person(identity, client, identity_pool, unique_email, person, clock)
    data = {"actor_account_id": person_id, "via": "api", "action": "video.edited", "target": "video 1",
            "outcome": "ok", "at": datetime.now(UTC)}  # fmt: skip
    with identity_pool.connection() as conn:
        audit_log_sql.insert(conn, str(uuid4()), "/catalogue", data)

    for typed in (person, "Élodie-" + unique_email.upper(), " e\u0301lodie-" + unique_email + " "):
        found = client.get("/v1/audit", query_string={"actor": typed}, headers=admin)
        assert found.status_code == 200, found.json
        assert [(e["actor_email"], e["target"]) for e in found.json["items"]] == [(person, "video 1")], typed
    nobody = client.get("/v1/audit", query_string={"actor": "not an address"}, headers=admin)
    assert (nobody.status_code, nobody.json["items"]) == (200, [])


def test_admins_page_through_an_audit_trail_longer_than_a_page(
    identity, client, identity_pool, unique_email, clock
):
    """25 actions of one person, 10 a page, two of them at each time: every action shows on exactly one
    page, newest first (the event id orders those at the same time), and the answer counts them all."""
    helper = "helper-" + unique_email
    admin, helper_id = admin_and_person(identity, client, identity_pool, unique_email, helper, clock)
    start = datetime.now(UTC).replace(microsecond=0)
    actions = [(start - timedelta(minutes=n // 2), uuid4(), f"video {n}") for n in range(25)]
    with identity_pool.connection() as conn:
        for at, event_id, target in actions:
            data = {"actor_account_id": helper_id, "via": "api", "action": "video.edited",
                    "target": target, "outcome": "ok", "at": at}  # fmt: skip
            audit_log_sql.insert(conn, str(event_id), "/catalogue", data)
    newest_first = [target for _, _, target in sorted(actions, key=lambda a: (-a[0].timestamp(), a[1]))]

    def page(number):  # type: ignore[no-untyped-def]
        query = {"actor": helper, "page": number, "per_page": 10}
        answer = client.get("/v1/audit", query_string=query, headers=admin)
        assert answer.status_code == 200, answer.json
        assert (answer.json["total"], answer.json["page"], answer.json["per_page"]) == (25, number, 10)
        return [entry["target"] for entry in answer.json["items"]]

    assert page(2) == newest_first[10:20]
    assert page(1) + page(2) + page(3) == newest_first and page(4) == []


def test_later_pages_list_the_trail_as_it_stood_at_the_first(
    identity, client, identity_pool, unique_email, clock
):
    """Reading page 1 is itself an action (audit.read), and others act meanwhile: page 2, asked `as_of`
    the first page's answer, neither repeats page 1's last entry nor counts what came after."""
    sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.ADMIN)
    secret, _ = enrol(client, login(client, unique_email).json["access_token"], clock)
    admin = bearer(otp_login(client, unique_email, secret, clock))
    action = "test.paged-" + "".join(random.choices(ascii_lowercase, k=12))  # this test's entries only
    start = datetime.now(UTC).replace(microsecond=0)

    def act(minutes_ago: int, target: str) -> None:
        data = {"actor_account_id": None, "via": "cli", "action": action, "target": target, "outcome": "ok",
                "at": start - timedelta(minutes=minutes_ago)}  # fmt: skip
        with identity_pool.connection() as conn:
            audit_log_sql.insert(conn, str(uuid4()), "/catalogue", data)

    for n in range(4):
        act(10 + n, f"old {n}")

    def page(number: int, **as_of: int) -> dict:  # type: ignore[type-arg]
        query = {"action": action, "page": number, "per_page": 2, **as_of}
        answer = client.get("/v1/audit", query_string=query, headers=admin)
        assert answer.status_code == 200, answer.json
        return answer.json

    first = page(1)
    act(0, "new")
    second = page(2, as_of=first["as_of"])
    assert [e["target"] for e in first["items"] + second["items"]] == ["old 0", "old 1", "old 2", "old 3"]
    assert (second["total"], second["as_of"]) == (4, first["as_of"])
    fresh = page(1)
    assert [e["target"] for e in fresh["items"]] == ["new", "old 0"] and fresh["total"] == 5
    assert fresh["as_of"] > first["as_of"]
    for bad in (-1, 2**63, "latest"):
        assert client.get("/v1/audit", query_string={"as_of": bad}, headers=admin).status_code == 422, bad


def test_me_tells_the_roles_and_whether_the_session_passed_the_second_factor(
    identity, client, identity_pool, unique_email, clock
):
    plain = sign_up(client, identity_pool, unique_email)
    assert {"roles": [], "second_factor": False}.items() <= client.get(
        "/v1/accounts/me", headers=bearer(plain)
    ).json.items()
    staff.grant(identity, unique_email, Role.SUPPORT)
    secret, _ = enrol(client, login(client, unique_email).json["access_token"], clock)
    me = client.get("/v1/accounts/me", headers=bearer(otp_login(client, unique_email, secret, clock))).json
    assert (me["roles"], me["second_factor"]) == (["support"], True)


def test_a_support_resend_over_the_emails_request_limit_is_a_documented_429_and_is_audited(
    make_identity, identity_pool, unique_email, clock
):
    limits = dataclasses.replace(RateLimits.generous(), resend_per_email=Limit(1, 3600))
    app = make_identity(rate_limits=limits)
    app.clock = clock
    client = create_app(app).test_client()
    support = support_member(app, client, identity_pool, "helper-" + unique_email, clock)
    pending = "pending-" + unique_email
    client.post("/v1/accounts", json={"email": pending, "password": PASSWORD})
    clock.now += timedelta(minutes=2)  # past the code's resend cooldown

    resends = [
        client.post("/v1/support/accounts/code-resends", json={"email": pending}, headers=support)
        for _ in range(2)
    ]
    assert [r.status_code for r in resends] == [202, 429]
    assert int(resends[1].headers["Retry-After"]) > 0
    operation = client.get("/openapi.json").json["paths"]["/v1/support/accounts/code-resends"]["post"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    support_id = claims(support["Authorization"].split()[1])["sub"]
    outcomes = [(r["data"]["action"], r["data"]["outcome"]) for r in audit_records(identity_pool, support_id)]
    assert outcomes == [("account.code-resent", "ok"), ("account.code-resent", "refused")]


def test_an_erasure_or_a_role_change_for_an_email_without_an_account_is_audited_too(
    identity, client, identity_pool, unique_email, clock
):
    support = support_member(identity, client, identity_pool, "helper-" + unique_email, clock)
    sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.ADMIN)
    secret, _ = enrol(client, login(client, unique_email).json["access_token"], clock)
    admin = bearer(otp_login(client, unique_email, secret, clock))
    nobody = "nobody-" + unique_email

    erasure = {"email": nobody, "reason": "asked by phone, ticket 4523"}
    assert client.post("/v1/support/accounts/erasures", json=erasure, headers=support).status_code == 404
    change = {"email": nobody, "role": "support"}
    assert client.post("/v1/staff/grants", json=change, headers=admin).status_code == 404
    assert client.post("/v1/staff/revocations", json=change, headers=admin).status_code == 404

    support_id = claims(support["Authorization"].split()[1])["sub"]
    [erased] = [r["data"] for r in audit_records(identity_pool, support_id)]
    assert (erased["action"], erased["outcome"]) == ("account.erased", "unchanged")
    assert erased["target"] == "(no account) (asked by phone, ticket 4523)"
    admin_id = claims(admin["Authorization"].split()[1])["sub"]
    changes = [r["data"] for r in audit_records(identity_pool, admin_id)]
    assert [(c["action"], c["target"], c["outcome"]) for c in changes] == [
        ("staff.role-granted", "support → (no verified account)", "refused"),
        ("staff.role-revoked", "support → (no verified account)", "refused"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "request_body"),
    [
        ("post", "/v1/staff/grants", {"json": {"email": "not an email", "role": "overlord"}}),
        ("post", "/v1/staff/revocations", {"json": {}}),
        ("get", "/v1/audit", {"query_string": {"since": "yesterday", "unknown": 1}}),
        ("get", "/v1/support/accounts", {"query_string": {"email": "not an email"}}),
        ("post", "/v1/support/accounts/code-resends", {"json": {"email": 42}}),
        ("post", "/v1/support/accounts/erasures", {"json": {"email": "x@example.org", "reason": ""}}),
    ],
)
def test_a_caller_without_the_role_is_refused_before_what_they_sent_is_read(
    client, identity_pool, unique_email, method, path, request_body
):
    anonymous = getattr(client, method)(path, **request_body)
    assert anonymous.status_code == 401, anonymous.json
    plain = bearer(sign_up(client, identity_pool, unique_email))
    refused = getattr(client, method)(path, headers=plain, **request_body)
    assert refused.status_code == 403 and refused.json["type"].endswith("role-required")


def test_an_anonymous_second_factor_enrolment_is_refused_before_its_code_is_read(client):
    answer = client.post("/v1/accounts/me/totp/verification", json={"code": "not digits"})
    assert answer.status_code == 401
    started = client.post("/v1/accounts/me/totp", json={"password": ""})  # nor its password
    assert started.status_code == 401


def test_the_apps_code_logs_in_as_the_app_shows_it_grouped_by_three(
    client, identity_pool, unique_email, clock
):
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    code = pyotp.TOTP(secret).at(clock.next_step())
    response = login(client, unique_email, totp=f"{code[:3]} {code[3:]}")
    assert response.status_code == 200, response.json
    assert claims(response.json["access_token"])["amr"] == ["pwd", "otp"]


def test_a_support_resend_within_the_codes_cooldown_sends_nothing_and_the_trail_says_so(
    identity, client, identity_pool, unique_email, clock
):
    support = support_member(identity, client, identity_pool, "helper-" + unique_email, clock)
    pending = "pending-" + unique_email
    client.post("/v1/accounts", json={"email": pending, "password": PASSWORD})

    resent = client.post("/v1/support/accounts/code-resends", json={"email": pending}, headers=support)
    assert resent.status_code == 202 and resent.json == {"pending": True}
    assert len(mailed_codes(identity_pool, pending)) == 1  # the sign-up's, a moment ago
    support_id = claims(support["Authorization"].split()[1])["sub"]
    outcomes = [(r["data"]["action"], r["data"]["outcome"]) for r in audit_records(identity_pool, support_id)]
    assert outcomes == [("account.code-resent", "unchanged")]


@pytest.mark.parametrize("change", ["role revoked", "password reset"])
def test_a_change_in_the_second_a_token_was_issued_ends_it_in_every_service(
    client, identity, identity_pool, unique_email, change
):
    """A token issued in the second of a grant carries the next second as its `iat` (never before the
    change: migration 002); a revocation or a reset in that same second ended tokens "issued before"
    that same next second, and the other services, which know no session but that time, kept the
    token. Here the grant's second is made to last: its time is a minute on."""
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    staff.grant(identity, unique_email, Role.SUPPORT)
    with identity_pool.connection() as conn:
        conn.execute(
            "UPDATE accounts SET roles_changed_at = roles_changed_at + interval '1 minute' WHERE id = %s",
            (account_id,),
        )
    issued = claims(login(client, unique_email).json["access_token"])["iat"]
    if change == "role revoked":
        staff.revoke(identity, unique_email, Role.SUPPORT)
    else:
        reset_password(client, identity_pool, unique_email)
    [ended] = [
        event["data"] for event in account_events(identity_pool, account_id)
        if event["type"] in ("StaffRoleRevoked", "PasswordReset")
    ]  # fmt: skip
    ended_before = datetime.fromisoformat(ended.get("changed_at") or ended["reset_at"])
    assert ended_before > datetime.fromtimestamp(issued, UTC), "the services' rule: revoked if issued before"
