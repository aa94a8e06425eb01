"""The common library's token check (accounts_common.auth) against identity served over real HTTP,
with its revocation projection fed by identity's events (directly, and through Kafka)."""

import dataclasses
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, jsonify
from psycopg_pool import ConnectionPool

from accounts_common import account_projection, auth
from accounts_common.consumer import EventConsumer
from accounts_common.db import create_pool
from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_common.problems import Problem, install_problem_handlers
from accounts_common.relay import OutboxRelay
from identity.adapters.tokens import key_id, pem_of
from identity.bootstrap import bootstrap
from identity.entrypoints.app import create_app
from identity.migrations import IDENTITY_MIGRATIONS
from tests.conftest import Infra, database_fixtures, migrated_database
from tests.integration.conftest import NEW_PASSWORD, PASSWORD, bearer, feed, reset_password, sign_up
from tests.support.polling import wait_for
from tests.support.processes import free_port
from tests.support.served import ServedIdentity

SIGNING_KEY = Ed25519PrivateKey.generate()


# identity's database for this module alone, so its relay publishes only these tests' events.
own_identity_db, own_identity_pool = database_fixtures("own_identity", IDENTITY_MIGRATIONS, scope="module")


@pytest.fixture(scope="module")
def service_pool(infra: Infra) -> Iterator[ConnectionPool]:
    """The database of another service that checks identity's tokens (only the common migrations)."""
    url = migrated_database(infra, "test_token_check_service")
    with create_pool(url, name="test-token-check-service") as pool:
        yield pool


@pytest.fixture
def own_identity(make_identity, own_identity_db, own_identity_pool):  # type: ignore[no-untyped-def]
    """Build identity apps on this module's database, signing with SIGNING_KEY unless told otherwise."""

    def build(**overrides) -> Flask:  # type: ignore[no-untyped-def]
        overrides.setdefault("signing_keys_pem", pem_of(SIGNING_KEY))
        settings = dataclasses.replace(make_identity(**overrides).settings, database_url=own_identity_db)
        return create_app(bootstrap(settings, pool=own_identity_pool))

    return build


@pytest.fixture
def served(own_identity) -> Iterator[ServedIdentity]:  # type: ignore[no-untyped-def]
    server = ServedIdentity(own_identity())
    yield server
    server.close()


def verifier(served: ServedIdentity, pool: ConnectionPool | None, **options) -> auth.TokenVerifier:  # type: ignore[no-untyped-def]
    return auth.TokenVerifier(served.jwks_url, pool=pool, **options)


def known_email(service_pool: ConnectionPool, account_id: str) -> str | None:
    with service_pool.connection() as conn:
        return account_projection.known_account_email(conn, uuid.UUID(account_id))


def rejection(check: auth.TokenVerifier, token: str) -> tuple[int, str] | None:
    try:
        check.verify(token)
    except Problem as problem:
        return problem.status, problem.slug
    return None


class CheckedOnce:
    """An account's token and a verifier of it on a clock the test moves (in seconds)."""

    def __init__(self, served: ServedIdentity, token: str) -> None:
        self.token, self.now = token, 0.0
        self.check = verifier(served, None, clock=lambda: self.now)

    def rejection_after(self, seconds: float) -> tuple[int, str] | None:
        """The token checked again once `seconds` more have passed on the verifier's clock."""
        self.now += seconds
        return rejection(self.check, self.token)


@pytest.fixture
def checked_once(served, own_identity_pool, unique_email) -> CheckedOnce:  # type: ignore[no-untyped-def]
    """A new account's token, checked once: it passes, so the verifier now holds identity's keys."""
    checked = CheckedOnce(served, sign_up(served.app.test_client(), own_identity_pool, unique_email))
    assert checked.rejection_after(0) is None
    return checked


def test_a_valid_token_gives_its_principal(served, own_identity_pool, service_pool, unique_email):
    token = sign_up(served.app.test_client(), own_identity_pool, unique_email)
    principal = verifier(served, service_pool).verify(token)
    assert principal.email == unique_email and principal.email_verified is True
    assert principal.issued_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_a_token_from_before_a_reset_is_rejected_by_identity_and_by_the_shared_check(
    served, own_identity_pool, service_pool, unique_email
):
    client = served.app.test_client()
    old_token = sign_up(client, own_identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(old_token)).json["id"]
    check = verifier(served, service_pool)
    assert rejection(check, old_token) is None
    reset_password(client, own_identity_pool, unique_email)
    feed(service_pool, own_identity_pool, account_id, "PasswordReset")
    assert client.get("/v1/accounts/me", headers=bearer(old_token)).status_code == 401
    assert rejection(check, old_token) == (403, "token-revoked")
    new_token = client.post("/v1/sessions", json={"email": unique_email, "password": NEW_PASSWORD}).json[
        "access_token"
    ]
    assert rejection(check, new_token) is None
    assert client.get("/v1/accounts/me", headers=bearer(new_token)).status_code == 200


def test_tokens_of_a_deleted_account_are_rejected(served, own_identity_pool, service_pool, unique_email):
    client = served.app.test_client()
    token = sign_up(client, own_identity_pool, unique_email)
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token))
    feed(service_pool, own_identity_pool, account_id, "AccountDeleted")
    assert rejection(verifier(served, service_pool), token) == (403, "token-revoked")


def test_a_logged_out_token_is_rejected_everywhere_and_the_other_sessions_stand(
    served, own_identity_pool, service_pool, unique_email
):
    client = served.app.test_client()
    token = sign_up(client, own_identity_pool, unique_email)
    other = client.post("/v1/sessions", json={"email": unique_email, "password": PASSWORD}).json[
        "access_token"
    ]
    account_id = client.get("/v1/accounts/me", headers=bearer(token)).json["id"]
    check = verifier(served, service_pool)
    assert client.delete("/v1/sessions/current", headers=bearer(token)).status_code == 204
    assert client.delete("/v1/sessions/current", headers=bearer(token)).status_code == 401
    feed(service_pool, own_identity_pool, account_id, "SessionRevoked")  # exactly one, for two logouts
    assert rejection(check, token) == (403, "token-revoked")
    assert rejection(check, other) is None


def test_the_projection_is_fed_through_kafka_by_a_real_consumer(
    infra, served, own_identity_db, own_identity_pool, service_pool, unique_email
):
    client = served.app.test_client()
    old_token = sign_up(client, own_identity_pool, unique_email)
    check = verifier(served, service_pool)
    relay = OutboxRelay(own_identity_db, infra.kafka, client_id="test-token-check-relay")
    consumer = EventConsumer(
        group=f"test-revocations-{uuid.uuid4().hex[:8]}",
        topics=(ACCOUNT_EVENTS,),
        handlers=account_projection.REVOCATION_HANDLERS,
        pool=service_pool,
        bootstrap_servers=infra.kafka,
    )
    stop = threading.Event()
    threads = [threading.Thread(target=work, args=(stop,), daemon=True) for work in (relay.run, consumer.run)]
    for thread in threads:
        thread.start()
    try:
        reset_password(client, own_identity_pool, unique_email)
        wait_for(
            lambda: rejection(check, old_token) == (403, "token-revoked"),
            timeout=60,
            what="the PasswordReset event to reach the projection",
            interval=0.2,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def test_a_new_key_is_fetched_when_an_unknown_kid_shows_up(
    own_identity, served, own_identity_pool, unique_email
):
    old_token = sign_up(served.app.test_client(), own_identity_pool, unique_email)
    check = verifier(served, None, refresh_cooldown_s=0)
    assert rejection(check, old_token) is None
    new_key = Ed25519PrivateKey.generate()
    served.app = own_identity(signing_keys_pem=pem_of(new_key) + pem_of(SIGNING_KEY))
    new_token = (
        served.app.test_client()
        .post("/v1/sessions", json={"email": unique_email, "password": PASSWORD})
        .json["access_token"]
    )
    assert jwt.get_unverified_header(new_token)["kid"] == key_id(new_key)
    assert rejection(check, new_token) is None
    assert rejection(check, old_token) is None


def test_a_retired_key_stops_verifying_within_the_cache_lifetime(own_identity, served, checked_once):
    served.app = own_identity(signing_keys_pem=pem_of(Ed25519PrivateKey.generate()))  # SIGNING_KEY retired
    assert checked_once.rejection_after(29) is None
    assert checked_once.rejection_after(2) == (401, "invalid-token")


def serve_a_key_set_that_is_not_json(served: ServedIdentity) -> None:
    broken = Flask("truncated-key-set")
    broken.get("/.well-known/jwks.json")(
        lambda: ('{"keys": [{"kty": "OKP"', 200, {"Content-Type": "application/json"})
    )
    served.app = broken


@pytest.mark.parametrize(
    "outage", [ServedIdentity.close, serve_a_key_set_that_is_not_json], ids=["down", "not-json"]
)
def test_an_identity_outage_keeps_the_last_keys_for_a_while_then_is_503(served, checked_once, outage):
    outage(served)
    assert checked_once.rejection_after(31) is None
    assert checked_once.rejection_after(270) == (503, "token-check-unavailable")


def test_a_key_set_cut_by_a_connection_reset_is_503_not_a_500(own_identity_pool, served, unique_email):
    token = sign_up(served.app.test_client(), own_identity_pool, unique_email)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=answer_then_reset, args=(listener,), daemon=True).start()
        check = auth.TokenVerifier(f"http://127.0.0.1:{listener.getsockname()[1]}/.well-known/jwks.json")
        assert rejection(check, token) == (503, "token-check-unavailable")


def answer_then_reset(listener: socket.socket) -> None:
    """Start a 200 answer, then reset the connection in the middle of its body."""
    connection, _ = listener.accept()
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n{")
    time.sleep(0.2)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def test_made_up_kids_do_not_refetch_the_keys_within_the_cooldown(served, own_identity_pool, unique_email):
    token = sign_up(served.app.test_client(), own_identity_pool, unique_email)
    check = verifier(served, None, refresh_cooldown_s=3600)
    assert rejection(check, token) is None
    served.close()  # any fetch from now on would fail with 503
    forged = jwt.encode({"sub": str(uuid.uuid4())}, Ed25519PrivateKey.generate(), "EdDSA", {"kid": "made-up"})
    assert rejection(check, forged) == (401, "invalid-token")


def test_unreachable_keys_are_503_not_a_pass(served, own_identity_pool, unique_email):
    token = sign_up(served.app.test_client(), own_identity_pool, unique_email)
    check = auth.TokenVerifier(f"http://127.0.0.1:{free_port()}/.well-known/jwks.json")
    assert rejection(check, token) == (503, "token-check-unavailable")


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", jwt.encode({"sub": "x"}, "k" * 32, "HS256")])
def test_garbage_tokens_are_401(served, token):
    assert rejection(verifier(served, None), token) == (401, "invalid-token")


def test_require_bearer_answers_problems(served, own_identity_pool, service_pool, unique_email):
    token = sign_up(served.app.test_client(), own_identity_pool, unique_email)
    unverified_claims = {**jwt.decode(token, options={"verify_signature": False}), "email_verified": False}
    unverified = jwt.encode(unverified_claims, SIGNING_KEY, "EdDSA", {"kid": key_id(SIGNING_KEY)})
    app = Flask("downloads")
    install_problem_handlers(app)
    auth.install_token_verifier(app, verifier(served, service_pool))

    @app.get("/strict")
    @auth.require_bearer()
    def strict():  # type: ignore[no-untyped-def]
        return jsonify(account=str(auth.current_principal().account_id))

    @app.get("/lenient")
    @auth.require_bearer(verified=False)
    def lenient():  # type: ignore[no-untyped-def]
        return jsonify(verified=auth.current_principal().email_verified)

    client = app.test_client()
    missing = client.get("/strict")
    assert missing.status_code == 401 and missing.content_type == "application/problem+json"
    assert missing.json["type"].endswith("missing-token") and "Bearer" in missing.headers["WWW-Authenticate"]
    assert client.get("/strict", headers=bearer("nonsense")).status_code == 401
    assert client.get("/strict", headers=bearer(token)).status_code == 200
    refused = client.get("/strict", headers=bearer(unverified))
    assert refused.status_code == 403 and refused.json["type"].endswith("account-not-verified")
    assert client.get("/lenient", headers=bearer(unverified)).json == {"verified": False}


def test_the_known_accounts_projection_follows_verification_reset_and_deletion(
    served, own_identity_pool, service_pool, unique_email
):
    client = served.app.test_client()
    token = sign_up(client, own_identity_pool, unique_email)
    account_id = str(verifier(served, service_pool).verify(token).account_id)
    handlers = account_projection.ACCOUNT_PROJECTION_HANDLERS
    assert known_email(service_pool, account_id) is None

    feed(service_pool, own_identity_pool, account_id, "AccountVerified", handlers)
    assert known_email(service_pool, account_id) == unique_email
    reset_password(client, own_identity_pool, unique_email)
    feed(service_pool, own_identity_pool, account_id, "PasswordReset", handlers)
    assert known_email(service_pool, account_id) == unique_email
    assert rejection(verifier(served, service_pool), token) == (403, "token-revoked")

    assert (
        client.delete(
            "/v1/accounts/me",
            json={"password": NEW_PASSWORD},
            headers=bearer(
                client.post("/v1/sessions", json={"email": unique_email, "password": NEW_PASSWORD}).json[
                    "access_token"
                ]
            ),
        ).status_code
        == 204
    )
    feed(service_pool, own_identity_pool, account_id, "AccountDeleted", handlers)
    assert known_email(service_pool, account_id) is None
    # A redelivered AccountVerified after the erasure does not bring the account back.
    feed(service_pool, own_identity_pool, account_id, "AccountVerified", handlers)
    assert known_email(service_pool, account_id) is None
