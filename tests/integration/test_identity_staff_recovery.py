"""Staff's second factor and the admin role: the last admin cannot revoke the admin role through the
API (the command line still can), the command line resets a lost second factor, and an enrolment never
hands out a secret it did not keep. On a database of this module's own, so "the last admin" is not
another module's."""

import argparse
import threading

import jwt
import pyotp
import pytest

from accounts_common.roles import Role
from identity.adapters import account_store
from identity.entrypoints.staff_cli import run_staff_command
from identity.migrations import IDENTITY_MIGRATIONS
from identity.service_layer import staff, totp
from identity.service_layer.errors import LastAdmin, TotpAlreadyEnrolled
from tests.conftest import database_fixtures
from tests.integration.conftest import PASSWORD, account_events, bearer, identity_on_test_clock, sign_up
from tests.support.outbox import outbox_records

# identity's database for this module alone (overriding the suite's shared one).
identity_db, identity_pool = database_fixtures(
    "identity", IDENTITY_MIGRATIONS, scope="module", database="test_identity_admins"
)


identity = pytest.fixture(identity_on_test_clock, name="identity")


def login(client, email, **extra):  # type: ignore[no-untyped-def]
    return client.post("/v1/sessions", json={"email": email, "password": PASSWORD, **extra})


def admin(identity, client, pool, email, clock):  # type: ignore[no-untyped-def]
    """A new admin (granted from the command line) logged in with a second factor; its header and secret."""
    token = sign_up(client, pool, email)
    staff.grant(identity, email, Role.ADMIN)
    token = login(client, email).json["access_token"]
    secret = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token)).json[
        "secret"
    ]
    code = {"code": pyotp.TOTP(secret).at(clock())}
    confirmed = client.post("/v1/accounts/me/totp/verification", json=code, headers=bearer(token))
    assert confirmed.status_code == 200, confirmed.json
    logged_in = login(client, email, totp=pyotp.TOTP(secret).at(clock.next_step()))
    assert logged_in.status_code == 200, logged_in.json
    return bearer(logged_in.json["access_token"]), secret


def claims(token: str) -> dict:  # type: ignore[type-arg]
    return jwt.decode(token, options={"verify_signature": False})


def member_id(identity) -> str:  # type: ignore[no-untyped-def]
    [member] = staff.members(identity)
    return str(member.account_id)


def revoke_every_admin(identity) -> None:  # type: ignore[no-untyped-def]
    with identity.pool.connection() as conn:
        conn.execute("DELETE FROM staff_roles WHERE role = 'admin'")


def staff_command(identity, action: str, email: str, role: str = "") -> None:  # type: ignore[no-untyped-def]
    run_staff_command(identity, argparse.Namespace(staff_action=action, email=email, role=role))


def test_the_last_admin_cannot_revoke_the_admin_role_through_the_api(identity, client, unique_email, clock):
    revoke_every_admin(identity)
    headers, _ = admin(identity, client, identity.pool, unique_email, clock)
    own = {"email": unique_email, "role": "admin"}
    refused = client.post("/v1/staff/revocations", json=own, headers=headers)
    assert refused.status_code == 409 and refused.json["type"].endswith("last-admin"), refused.json
    assert staff.members(identity)[0].roles == ["admin"]
    operation = client.get("/openapi.json").json["paths"]["/v1/staff/revocations"]["post"]
    assert "last-admin" in operation["responses"]["409"]["description"]
    [record] = outbox_records(identity.pool, topic="audit.operator-actions.v1")[-1:]
    assert (record["data"]["action"], record["data"]["outcome"]) == ("staff.role-revoked", "refused")
    other = "second-" + unique_email
    sign_up(client, identity.pool, other)
    assert client.post("/v1/staff/grants", json={**own, "email": other}, headers=headers).json["changed"]
    assert client.post("/v1/staff/revocations", json=own, headers=headers).json["changed"] is True


def test_the_last_admin_cannot_delete_their_own_account_while_another_admin_can(
    identity, client, unique_email, clock
):
    revoke_every_admin(identity)
    headers, _ = admin(identity, client, identity.pool, unique_email, clock)
    refused = client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=headers)
    assert refused.status_code == 409 and refused.json["type"].endswith("last-admin"), refused.json
    assert client.get("/v1/accounts/me", headers=headers).status_code == 200  # nothing was erased
    operation = client.get("/openapi.json").json["paths"]["/v1/accounts/me"]["delete"]
    assert "last-admin" in operation["responses"]["409"]["description"]
    second_headers, _ = admin(identity, client, identity.pool, "second-" + unique_email, clock)
    deleted = client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=second_headers)
    assert deleted.status_code == 204
    assert [m.email for m in staff.members(identity)] == [unique_email]


def test_a_staff_members_own_deletion_ends_their_roles_in_the_trail_and_the_last_admins_is_refused_there(
    identity, client, unique_email, clock
):
    """Their roles go with the account: the trail says so, as for a revocation, with them as actor."""
    revoke_every_admin(identity)
    headers, _ = admin(identity, client, identity.pool, unique_email, clock)
    refused = client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=headers)
    assert refused.status_code == 409
    second_headers, _ = admin(identity, client, identity.pool, "second-" + unique_email, clock)
    assert (
        client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=second_headers).status_code
        == 204
    )

    for header, outcome in ((headers, "refused"), (second_headers, "ok")):
        account_id = claims(header["Authorization"].split()[1])["sub"]
        trail = outbox_records(identity.pool, topic="audit.operator-actions.v1", key=account_id)
        actions = [(r["data"]["action"], r["data"]["target"], r["data"]["outcome"]) for r in trail]
        assert actions == [("staff.role-revoked", f"admin → {account_id}", outcome)]


def test_two_admins_revoking_each_other_together_leave_one(identity, client, unique_email, clock):
    revoke_every_admin(identity)
    first, second = unique_email, "other-" + unique_email
    admin(identity, client, identity.pool, first, clock)
    admin(identity, client, identity.pool, second, clock)
    ids = {m.email: m.account_id for m in staff.members(identity)}
    barrier, outcomes = threading.Barrier(2), []

    def revoke(email: str, actor: str) -> None:
        barrier.wait()
        try:
            outcomes.append(staff.revoke(identity, email, Role.ADMIN, actor=ids[actor]))
        except LastAdmin:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=revoke, args=(first, second)),
        threading.Thread(target=revoke, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, outcomes)) == ["True", "refused"]
    assert [m.roles for m in staff.members(identity)] == [["admin"]]


def test_the_command_line_may_still_revoke_the_last_admin(identity, client, unique_email, clock):
    revoke_every_admin(identity)
    admin(identity, client, identity.pool, unique_email, clock)
    staff_command(identity, "revoke", unique_email, "admin")
    assert staff.members(identity) == []


def test_the_command_line_resets_a_lost_second_factor(identity, client, unique_email, clock, capsys):
    revoke_every_admin(identity)
    headers, _ = admin(identity, client, identity.pool, unique_email, clock)
    assert login(client, unique_email).json["type"].endswith("mfa-required")
    staff_command(identity, "reset-totp", unique_email)
    assert "second factor removed" in capsys.readouterr().out
    # The session opened with the lost factor ends; the password alone logs in again, to enrol anew.
    assert client.get("/v1/accounts/me", headers=headers).status_code == 401
    jti = claims(headers["Authorization"].split()[1])["jti"]
    events = account_events(identity.pool, member_id(identity))
    revoked = [e["data"]["session_id"] for e in events if e["type"] == "SessionRevoked"]
    assert jti in revoked  # SessionRevoked: every other service refuses it too
    again = login(client, unique_email)
    assert again.status_code == 200, again.json
    token = again.json["access_token"]
    assert (
        client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(token)).status_code
        == 201
    )
    assert [m.mfa_enrolled for m in staff.members(identity)] == [False]
    [record] = outbox_records(identity.pool, topic="audit.operator-actions.v1")[-1:]
    assert record["data"]["action"] == "staff.second-factor-reset" and record["data"]["via"] == "cli"
    staff_command(identity, "reset-totp", unique_email)
    assert "nothing to change" in capsys.readouterr().out


def test_resetting_the_second_factor_of_no_account_exits_1(identity, unique_email):
    with pytest.raises(SystemExit) as exited:
        staff_command(identity, "reset-totp", "nobody-" + unique_email)
    assert "no verified account" in str(exited.value)


def test_an_enrolment_started_as_another_is_confirmed_hands_out_no_secret_that_was_not_kept(
    identity, client, unique_email, clock, monkeypatch
):
    _, secret = admin(identity, client, identity.pool, unique_email, clock)
    with identity.pool.connection() as conn:
        account = account_store.find_account_by_email(conn, unique_email)
    # Two tabs: this one's start looked before the other's confirmation committed.
    monkeypatch.setattr(totp.staff, "has_confirmed_totp", lambda conn, account_id: False)
    with pytest.raises(TotpAlreadyEnrolled):
        totp.start_enrolment(identity, account)
    assert login(client, unique_email, totp=pyotp.TOTP(secret).at(clock.next_step())).status_code == 200
