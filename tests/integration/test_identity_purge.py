"""A registration racing the housekeeping's purge of the same email's abandoned pending account (its
last registration expired), against the real database: whichever goes first, the registration
answers 202 and its code verifies. The purge erases (and announces with AccountDeleted) only an
account nothing is being registered under, and leaves nothing of it in the outbox."""

import threading

from identity.adapters import account_store
from identity.service_layer import housekeeping
from tests.integration.conftest import latest_code, register, verify


def abandoned(identity_pool, client, email: str) -> None:
    """A pending account of `email` whose only registration has expired: the purge's to erase."""
    register(client, email)
    with identity_pool.connection() as conn:
        conn.execute(
            "UPDATE registrations SET expires_at = now() - interval '1 second' WHERE email = %s", (email,)
        )


def purge(identity) -> None:
    with identity.pool.connection() as conn:
        housekeeping.purge_expired_registrations(identity, conn)


def test_a_registration_finding_its_pending_account_purged_makes_a_new_one(
    identity, client, identity_pool, unique_email, monkeypatch
):
    abandoned(identity_pool, client, unique_email)
    lock = account_store.lock_account_by_email

    def purged_first(conn, email):  # the account was there when the registration looked, not now
        purge(identity)
        return lock(conn, email)

    monkeypatch.setattr(account_store, "lock_account_by_email", purged_first)
    response = client.post("/v1/accounts", json={"email": unique_email, "password": "Correct-Horse-9!"})
    monkeypatch.undo()
    assert response.status_code == 202, response.json
    code = latest_code(identity_pool, unique_email)
    assert verify(client, unique_email, response.json["registration_id"], code).status_code == 200


def test_the_purge_spares_a_pending_account_a_registration_is_being_added_to(
    identity, client, identity_pool, unique_email, monkeypatch
):
    abandoned(identity_pool, client, unique_email)
    lock = account_store.lock_account_by_email
    sweep = threading.Thread(target=purge, args=(identity,))

    def purge_meanwhile(conn, email):  # the purge starts while the registration holds the account
        account = lock(conn, email)
        sweep.start()
        sweep.join(timeout=1.0)  # done by now unless it waits for the registration to end
        return account

    monkeypatch.setattr(account_store, "lock_account_by_email", purge_meanwhile)
    registration_id = register(client, unique_email)
    monkeypatch.undo()
    sweep.join(timeout=10.0)
    assert not sweep.is_alive()
    code = latest_code(identity_pool, unique_email)
    assert verify(client, unique_email, registration_id, code).status_code == 200


def test_the_purge_leaves_no_state_record_waiting_for_an_event_it_erased(
    identity, client, identity_pool, unique_email
):
    """The state topic short of partitions for the week a registration lives: the account's events went
    out, its state records wait for them. The purge erases the events; their states go too (the
    tombstone it publishes supersedes them), else they would wait for ever, holding the address."""
    abandoned(identity_pool, client, unique_email)
    with identity_pool.connection() as conn:
        [account_id] = conn.execute("SELECT id FROM accounts WHERE email = %s", (unique_email,)).fetchone()
        conn.execute(
            """UPDATE outbox SET published_at = now(), kafka_partition = 0, kafka_offset = id
               WHERE record_key = %s AND follows_event_id IS NULL""",
            (str(account_id),),
        )
    purge(identity)
    with identity_pool.connection() as conn:
        orphans = conn.execute(
            """SELECT count(*) FROM outbox state
               WHERE state.record_key = %s AND state.follows_event_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM outbox event WHERE event.event_id = state.follows_event_id)""",
            (str(account_id),),
        ).fetchone()
        holding_the_address = conn.execute(
            "SELECT count(*) FROM outbox WHERE record_key = %s AND record_value LIKE %s",
            (str(account_id), f"%{unique_email}%"),
        ).fetchone()
    assert orphans == (0,)
    assert holding_the_address == (0,)
