"""Signing keys: configured PEMs, the JWKS during a rollover, and keys added to the database."""

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from identity.adapters.tokens import insert_signing_key, key_id, key_sealer, pem_of
from identity.entrypoints.app import create_app
from identity.settings import Settings
from tests.conftest import fresh_database
from tests.integration.conftest import PASSWORD, bearer, sign_up
from tests.support.processes import run_once


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def login(client, email):
    return client.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json["access_token"]


def test_a_rollover_publishes_both_keys_and_signs_with_the_new_one(
    make_identity, identity_pool, unique_email
):
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    before = create_app(make_identity(signing_keys_pem=pem_of(old))).test_client()
    old_token = sign_up(before, identity_pool, unique_email)
    assert kid_of(old_token) == key_id(old)

    during = create_app(make_identity(signing_keys_pem=pem_of(new) + "\n" + pem_of(old))).test_client()
    jwks = during.get("/.well-known/jwks.json")
    assert [key["kid"] for key in jwks.json["keys"]] == [key_id(new), key_id(old)]
    assert jwks.headers["Cache-Control"].startswith("public")
    assert during.get("/v1/accounts/me", headers=bearer(old_token)).status_code == 200
    new_token = login(during, unique_email)
    assert kid_of(new_token) == key_id(new)
    key = jwt.PyJWK(jwks.json["keys"][0])
    assert jwt.decode(new_token, key, algorithms=["EdDSA"], leeway=30)["email"] == unique_email

    after = create_app(make_identity(signing_keys_pem=pem_of(new))).test_client()
    assert after.get("/v1/accounts/me", headers=bearer(new_token)).status_code == 200
    assert after.get("/v1/accounts/me", headers=bearer(old_token)).status_code == 401


def test_a_key_added_to_the_database_is_published_at_once_and_signs_after_the_refresh(
    make_identity, identity_pool, unique_email
):
    client = create_app(make_identity(signing_key_cache_s=0)).test_client()
    first = sign_up(client, identity_pool, unique_email)
    added = Ed25519PrivateKey.generate()
    with identity_pool.connection() as conn:
        kid = insert_signing_key(conn, key_sealer(Settings.from_env()), added)
    kids = [key["kid"] for key in client.get("/.well-known/jwks.json").json["keys"]]
    assert kids[0] == kid and kid_of(first) in kids
    assert kid_of(login(client, unique_email)) == kid
    assert client.get("/v1/accounts/me", headers=bearer(first)).status_code == 200


def test_signing_keys_that_are_not_ed25519_pem_stop_the_service(make_identity):
    with pytest.raises(ValueError, match="PEM"):
        make_identity(signing_keys_pem="not a key")


def test_rotate_key_adds_a_key_and_keeps_the_previous_one(infra):  # type: ignore[no-untyped-def]
    env = {
        "IDENTITY_DATABASE_URL": fresh_database(infra, "test_identity_rotation"),
        "IDENTITY_SIGNING_KEYS": "",
    }
    run_once(["identity", "migrate"], env)
    outputs = [run_once(["identity", "rotate-key"], env) for _ in range(3)]
    assert [output.split("; ")[1].strip() for output in outputs] == [
        "0 older key(s) retired",
        "0 older key(s) retired",
        "1 older key(s) retired",
    ]
    new_kids = [output.split("new signing key ")[1].split(";")[0] for output in outputs]
    with psycopg.connect(env["IDENTITY_DATABASE_URL"]) as conn:
        active = conn.execute(
            "SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC"
        ).fetchall()
    assert [kid for (kid,) in active] == [new_kids[2], new_kids[1]]
