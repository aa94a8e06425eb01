"""Deleting one's account through identity's HTTP API against the real database; and erasing it again
when a restore of the database brought it back (against the real broker)."""

import json
import uuid
from datetime import UTC, datetime

from accounts_common.events import Topic, parse_event
from accounts_common.events.topics import ACCOUNT_EVENTS
from identity.entrypoints.cli import main
from tests.conftest import fresh_topics
from tests.integration.conftest import PASSWORD, account_events, bearer, sign_up
from tests.support.kafka import publish_events


def delete_me(client, token, password=PASSWORD):
    return client.delete("/v1/accounts/me", json={"password": password}, headers=bearer(token))


def test_deletion_erases_the_account_and_kills_its_tokens(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    other = client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).json[
        "access_token"
    ]
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    response = delete_me(client, token)
    assert response.status_code == 204 and response.data == b""
    for dead in (token, other):
        assert client.get("/v1/accounts/me", headers=bearer(dead)).status_code == 401
    assert client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).status_code == 401
    with identity_pool.connection() as conn:
        rows = conn.execute(
            """SELECT (SELECT count(*) FROM accounts WHERE id = %(id)s OR lower(email) = %(email)s)
                    + (SELECT count(*) FROM sessions WHERE account_id = %(id)s)
                    + (SELECT count(*) FROM registrations WHERE account_id = %(id)s)
                    + (SELECT count(*) FROM reset_codes WHERE account_id = %(id)s)""",
            {"id": account_id, "email": unique_email},
        ).fetchone()
    assert rows[0] == 0


def test_deletion_is_announced_and_pending_codes_are_dropped(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    delete_me(client, token)
    events = account_events(identity_pool, account_id)
    assert [e["type"] for e in events] == ["UserRegistered", "AccountVerified", "AccountDeleted"]
    assert set(events[-1]["data"]) == {"account_id", "deleted_at"}


def test_published_events_of_a_deleted_account_are_erased(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    with identity_pool.connection() as conn:
        conn.execute("UPDATE outbox SET published_at = now() WHERE record_key = %s", (account_id,))
    delete_me(client, token)
    assert [e["type"] for e in account_events(identity_pool, account_id)] == ["AccountDeleted"]


def test_the_email_can_sign_up_again_after_deletion(client, identity_pool, unique_email):
    delete_me(client, sign_up(client, identity_pool, unique_email))
    token = sign_up(client, identity_pool, unique_email)
    assert client.get("/v1/accounts/me", headers=bearer(token)).status_code == 200


def test_a_wrong_password_does_not_delete(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    response = delete_me(client, token, "Not-My-Password-1!")
    assert response.status_code == 403 and response.json["type"].endswith("wrong-password")
    assert client.get("/v1/accounts/me", headers=bearer(token)).status_code == 200


def test_deletion_needs_a_valid_token_and_a_password(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    assert client.delete("/v1/accounts/me", json={"password": PASSWORD}).status_code == 401
    assert delete_me(client, "not-a-token").status_code == 401
    missing = client.delete("/v1/accounts/me", json={}, headers=bearer(token))
    assert missing.status_code == 422 and set(missing.json["errors"]) == {"password"}


def test_an_account_a_restore_brings_back_is_erased_again_from_its_deletion_on_kafka(
    client, identity_pool, identity_db, infra, unique_email, monkeypatch, capsys
):
    """PostgreSQL restored to a point before a deletion has the account back, its AccountDeleted on
    Kafka since: `identity erase-again --since <restore point>` erases it again and says so anew."""
    token = sign_up(client, identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    with identity_pool.connection() as conn:
        saved = conn.execute("SELECT * FROM accounts WHERE id = %s", (account_id,)).fetchone()
    restore_point = datetime.now(UTC)
    delete_me(client, token)
    [deleted] = [
        event for event in account_events(identity_pool, account_id) if event["type"] == "AccountDeleted"
    ]
    prefix = f"test.erase-again-{uuid.uuid4().hex[:8]}."
    fresh_topics(infra, Topic(prefix + ACCOUNT_EVENTS, partitions=3))
    publish_events(infra.kafka, prefix + ACCOUNT_EVENTS, [parse_event(json.dumps(deleted))])  # the relay's
    with identity_pool.connection() as conn:  # the restore: the account is back, not its deletion
        conn.execute(f"INSERT INTO accounts VALUES ({', '.join(['%s'] * len(saved))})", saved)

    env = {
        "IDENTITY_DATABASE_URL": identity_db,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "IDENTITY_TOPIC_PREFIX": prefix,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    main(["erase-again", "--since", restore_point.isoformat()])

    assert capsys.readouterr().out.splitlines()[-1] == account_id
    assert client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).status_code == 401
    with identity_pool.connection() as conn:
        assert conn.execute("SELECT 1 FROM accounts WHERE id = %s", (account_id,)).fetchone() is None
    announced = [event["type"] for event in account_events(identity_pool, account_id)]
    assert announced.count("AccountDeleted") == 2 and announced[-1] == "AccountDeleted"  # and anew
    main(["erase-again", "--since", restore_point.isoformat()])
    assert capsys.readouterr().out.splitlines() == [
        f"identity: 1 account(s) deleted since {restore_point.isoformat()}; erased again:"
    ]
