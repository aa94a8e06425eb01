"""Housekeeping: unverified registrations expire and are purged with their codes; the pending
account they leave empty is erased (and announced); spent counters go."""

from accounts_common.relay import OutboxRelay
from identity.service_layer import housekeeping
from tests.integration.conftest import account_events, latest_code, register, verify
from tests.support.polling import wait_for
from tests.support.workers import running


def age(pool, sql: str, email: str) -> None:  # type: ignore[no-untyped-def]
    with pool.connection() as conn:
        conn.execute(sql, (email,))


def test_an_expired_registration_is_purged_with_its_code_and_its_empty_account(
    identity, client, identity_pool, unique_email
):
    registration_id = register(client, unique_email)
    code = latest_code(identity_pool, unique_email)
    with identity_pool.connection() as conn:
        account_id = conn.execute("SELECT id FROM accounts WHERE email = %s", (unique_email,)).fetchone()[0]
    age(
        identity_pool,
        "UPDATE registrations SET expires_at = now() - interval '1 second' WHERE email = %s",
        unique_email,
    )
    with identity_pool.connection() as conn:
        conn.execute("UPDATE code_sends SET sent_at = now() - interval '2 hours'")
    deleted = housekeeping.sweep(identity)
    assert deleted["registrations"] >= 1 and deleted["accounts"] >= 1 and deleted["code_sends"] >= 1
    assert verify(client, unique_email, registration_id, code).json["type"].endswith("invalid-code")
    with identity_pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM accounts WHERE id = %s", (account_id,)).fetchone()[0] == 0
    assert [e["type"] for e in account_events(identity_pool, str(account_id))][-1] == "AccountDeleted"


def test_a_live_registration_and_a_verified_account_stay(identity, client, identity_pool, unique_email):
    verified = register(client, unique_email)
    assert verify(client, unique_email, verified, latest_code(identity_pool, unique_email)).status_code == 200
    pending = register(client, "pending-" + unique_email)
    housekeeping.sweep(identity)
    code = latest_code(identity_pool, "pending-" + unique_email)
    assert verify(client, "pending-" + unique_email, pending, code).status_code == 200
    assert (
        client.post("/v1/sessions", json={"email": unique_email, "password": "Correct-Horse-9!"}).status_code
        == 200
    )


def test_the_relay_runs_identitys_housekeeping(
    identity, client, identity_db, identity_pool, infra, unique_email
):
    register(client, unique_email)
    with identity_pool.connection() as conn:
        conn.execute("UPDATE registrations SET expires_at = now() WHERE email = %s", (unique_email,))
    relay = OutboxRelay(
        identity_db,
        infra.kafka,
        client_id="test-housekeeping-relay",
        housekeeping=housekeeping.expiries(identity.settings),
        housekeeping_interval_s=0.2,
        chores=(lambda conn: housekeeping.purge_expired_registrations(identity, conn),),
    )
    with running(relay.run):
        wait_for(lambda: account_count(identity_pool, unique_email) == 0, timeout=20, what="the purge")


def account_count(pool, email: str) -> int:  # type: ignore[no-untyped-def]
    with pool.connection() as conn:
        return conn.execute("SELECT count(*) FROM accounts WHERE email = %s", (email,)).fetchone()[0]
