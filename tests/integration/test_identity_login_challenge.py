"""The login's second step against the real database: a right password of an account with a second
factor answers 401 mfa-required with a `challenge`, and `{challenge, totp}` then logs in as
`{email, password, totp}` does, within the same limits; a challenge expired, forged or older than the
password is refused as challenge-expired."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from uuid import uuid4

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts_common import auth
from accounts_common.problems import Problem
from accounts_common.roles import Role
from identity.adapters import account_store
from identity.adapters.tokens import pem_of
from identity.domain.limits import LoginThrottle
from identity.domain.passwords import Password
from identity.entrypoints.app import create_app
from identity.service_layer import sessions, staff
from identity.service_layer.errors import InvalidCredentials, MfaRequired
from tests.integration.conftest import (
    IDENTITY_SIGNING_KEY,
    NEW_PASSWORD,
    PASSWORD,
    Clock,
    bearer,
    identity_on_test_clock,
    latest_code,
    reset_password,
    sign_up,
)
from tests.integration.test_identity_staff import claims, enrol, login

identity = pytest.fixture(identity_on_test_clock, name="identity")


def challenge_of(client, email) -> str:
    refused = login(client, email)
    assert refused.status_code == 401 and refused.json["type"].endswith("mfa-required"), refused.json
    return refused.json["challenge"]


def answer(client, challenge, code):
    return client.post("/v1/sessions", json={"challenge": challenge, "totp": code})


def is_challenge_expired(response) -> bool:
    return response.status_code == 401 and response.json["type"].endswith("/challenge-expired")


def test_the_challenge_and_the_code_log_in_as_the_password_and_the_code_do(
    identity, client, identity_pool, unique_email, clock
):
    sign_up(client, identity_pool, unique_email)
    staff.grant(identity, unique_email, Role.SUPPORT)
    secret, _ = enrol(client, login(client, unique_email).json["access_token"], clock)
    challenge = challenge_of(client, unique_email)
    assert client.get("/v1/accounts/me", headers=bearer(challenge)).status_code == 401, "not an access token"

    logged_in = answer(client, challenge, pyotp.TOTP(secret).at(clock.next_step()))
    assert logged_in.status_code == 200, logged_in.json
    token = logged_in.json["access_token"]
    assert claims(token)["amr"] == ["pwd", "otp"] and claims(token)["roles"] == ["support"]
    assert client.get("/v1/accounts/me", headers=bearer(token)).json["email"] == unique_email
    wrong = answer(client, challenge, "000000")
    assert wrong.status_code == 401 and wrong.json["type"].endswith("invalid-second-factor")


def test_a_challenge_older_than_five_minutes_is_refused(identity, client, identity_pool, unique_email, clock):
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    clock.now += timedelta(minutes=5, seconds=1)
    assert is_challenge_expired(answer(client, challenge, pyotp.TOTP(secret).at(clock())))


def test_a_forged_challenge_is_refused(identity, client, identity_pool, unique_email, clock):
    token = sign_up(client, identity_pool, unique_email)
    secret, _ = enrol(client, token, clock)
    challenge = challenge_of(client, unique_email)
    header = jwt.get_unverified_header(challenge)
    forged_claims = claims(challenge) | {"exp": claims(challenge)["exp"] + 3600}
    forgeries = [
        jwt.encode(forged_claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=header),
        challenge[:-4] + ("AAAA" if not challenge.endswith("AAAA") else "BBBB"),
        token,  # an access token of the same account is no challenge
        "not-a-challenge",
    ]
    for forged in forgeries:
        assert is_challenge_expired(answer(client, forged, pyotp.TOTP(secret).at(clock.next_step()))), forged


def test_a_password_reset_voids_the_challenges_given_before_it(
    identity, client, identity_pool, unique_email, clock
):
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    reset_password(client, identity_pool, unique_email)
    assert is_challenge_expired(answer(client, challenge, pyotp.TOTP(secret).at(clock.next_step())))


def identity_on(make_identity, clock, **settings):
    """An identity of `settings` on the test's clock, and a client of it."""
    app = make_identity(**settings)
    app.clock = clock
    return app, create_app(app).test_client()


def throttled_client(make_identity, clock, free_failures: int):
    """A client of an identity on the test's clock that delays logins after `free_failures`."""
    return identity_on(
        make_identity, clock, login_throttle=LoginThrottle(free_failures=free_failures, base_delay_s=30)
    )[1]


def test_wrong_codes_after_a_challenge_count_against_the_same_limit(
    make_identity, identity_pool, unique_email, clock
):
    client = throttled_client(make_identity, clock, free_failures=2)
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    assert login(client, unique_email, totp="000000").status_code == 401
    assert answer(client, challenge, "000000").status_code == 401
    right = pyotp.TOTP(secret).at(clock.next_step())
    for blocked in (answer(client, challenge, right), login(client, unique_email, totp=right)):
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    "body",
    [
        {"challenge": "x.y.z"},
        {"challenge": "x.y.z", "totp": "123456", "email": "a@example.org"},
        {"challenge": "x.y.z", "totp": "123456", "password": "secret"},
        {"totp": "123456"},
    ],
)
def test_a_challenge_comes_with_a_code_and_without_the_password(client, body):
    refused = client.post("/v1/sessions", json=body)
    assert refused.status_code == 422, refused.json


def test_the_document_says_both_ways_and_the_challenge(client):
    document = client.get("/openapi.json").json
    login_body = document["components"]["schemas"]["Login"]
    assert {"email", "password", "challenge", "totp"} <= set(login_body["properties"])
    assert [sorted(way["required"]) for way in login_body["oneOf"]] == [
        ["email", "password"],
        ["challenge", "totp"],
    ]
    refused = document["paths"]["/v1/sessions"]["post"]["responses"]["401"]
    assert "challenge-expired" in refused["description"]
    problem = refused["content"]["application/problem+json"]["schema"]
    name = problem["$ref"].rsplit("/", 1)[-1]
    assert "challenge" in document["components"]["schemas"][name]["properties"]


def test_a_login_through_the_challenge_renews_a_hash_of_older_parameters_and_the_challenge_holds(
    make_identity, identity_pool, unique_email, clock
):
    _, old_client = identity_on(make_identity, clock, argon2_time_cost=1)
    secret, _ = enrol(old_client, sign_up(old_client, identity_pool, unique_email), clock)
    _, client = identity_on(make_identity, clock, argon2_time_cost=2)
    challenge = challenge_of(client, unique_email)
    with identity_pool.connection() as conn:
        [stored] = conn.execute(
            "SELECT password_hash FROM accounts WHERE email = %s", (unique_email,)
        ).fetchone()
    assert ",t=2," in stored
    assert answer(client, challenge, pyotp.TOTP(secret).at(clock.next_step())).status_code == 200


def test_a_challenge_holds_when_another_login_renews_the_hash_meanwhile(
    make_identity, identity_pool, unique_email, clock
):
    """New argon2 parameters, then two logins at once (two devices, a double click): the one that
    renews the hash must not void the other's challenge, whose password still stands."""
    _, old_client = identity_on(make_identity, clock, argon2_time_cost=1)
    secret, _ = enrol(old_client, sign_up(old_client, identity_pool, unique_email), clock)
    challenge = challenge_of(old_client, unique_email)
    _, client = identity_on(make_identity, clock, argon2_time_cost=2)
    challenge_of(client, unique_email)  # renews the hash to the new parameters
    assert answer(client, challenge, pyotp.TOTP(secret).at(clock.next_step())).status_code == 200


def test_a_password_reset_to_the_same_password_voids_the_challenges_given_before_it(
    identity, client, identity_pool, unique_email, clock
):
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    # A decoy registration of the email pins the hash's salt: the same password hashes the same again.
    assert (
        client.post("/v1/accounts", json={"email": unique_email, "password": "Decoy-Pass-77!"}).status_code
        == 202
    )
    client.post("/v1/password-resets", json={"email": unique_email})
    code = latest_code(identity_pool, unique_email, "password_reset")
    verified = client.post("/v1/password-resets/verification", json={"email": unique_email, "code": code})
    done = client.post(
        "/v1/password-resets/completion",
        json={"reset_token": verified.json["reset_token"], "new_password": PASSWORD},
    )
    assert done.status_code == 200, done.json
    assert is_challenge_expired(answer(client, challenge, pyotp.TOTP(secret).at(clock.next_step())))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict, body: dict) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"


def test_the_other_services_token_check_refuses_a_challenge(served_identity, identity_pool, unique_email):
    client, clock = served_identity.app.test_client(), Clock()
    token = sign_up(client, identity_pool, unique_email)
    enrol(client, token, clock)
    check = auth.TokenVerifier(served_identity.jwks_url)
    assert str(check.verify(token).account_id) == claims(token)["sub"]
    with pytest.raises(Problem) as refused:
        check.verify(challenge_of(client, unique_email))
    assert refused.value.status == 401


def test_only_a_challenge_of_ours_in_every_part_is_one(served_identity, identity_pool, unique_email):
    """Signed with identity's own key, a challenge still needs its typ, its audience, its alg and an
    active kid: each missing is refused, not only a bad signature."""
    client, clock = served_identity.app.test_client(), Clock()
    secret, recovery = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    header, body = jwt.get_unverified_header(challenge), claims(challenge)
    public = base64.urlsafe_b64decode(
        served_identity.app.test_client().get("/.well-known/jwks.json").json["keys"][0]["x"] + "=="
    )
    hs256 = unsigned(header | {"alg": "HS256"}, body)
    forgeries = [
        unsigned(header | {"alg": "none"}, body) + ".",
        f"{hs256}.{b64(hmac.new(public, hs256.encode(), hashlib.sha256).digest())}",
        jwt.encode(
            body, IDENTITY_SIGNING_KEY, algorithm="EdDSA", headers=header | {"kid": "retired-or-unknown"}
        ),
        jwt.encode(body, IDENTITY_SIGNING_KEY, algorithm="EdDSA", headers={"kid": header["kid"]}),
        jwt.encode(
            {k: v for k, v in body.items() if k != "aud"},
            IDENTITY_SIGNING_KEY,
            algorithm="EdDSA",
            headers=header,
        ),
        jwt.encode(body | {"aud": "identity"}, IDENTITY_SIGNING_KEY, algorithm="EdDSA", headers=header),
    ]
    for forged in forgeries:
        assert is_challenge_expired(answer(client, forged, pyotp.TOTP(secret).at(clock()))), forged
    resigned = jwt.encode(body, IDENTITY_SIGNING_KEY, algorithm="EdDSA", headers=header)
    assert answer(client, resigned, recovery[0]).status_code == 200  # (its TOTP step went on enrolling)


def test_a_code_spent_through_the_challenge_is_spent_for_both_ways(
    identity, client, identity_pool, unique_email, clock
):
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    code = pyotp.TOTP(secret).at(clock.next_step())
    assert answer(client, challenge, code).status_code == 200
    for replayed in (answer(client, challenge, code), login(client, unique_email, totp=code)):
        assert replayed.status_code == 401 and replayed.json["type"].endswith("invalid-second-factor")
    code = pyotp.TOTP(secret).at(clock.next_step())
    assert login(client, unique_email, totp=code).status_code == 200
    replayed = answer(client, challenge_of(client, unique_email), code)
    assert replayed.status_code == 401 and replayed.json["type"].endswith("invalid-second-factor")


def test_a_challenge_takes_only_its_own_accounts_code(identity, client, identity_pool, clock):
    email_a, email_b = f"a-{uuid4().hex}@example.org", f"b-{uuid4().hex}@example.org"
    secret_a, _ = enrol(client, sign_up(client, identity_pool, email_a), clock)
    secret_b, recovery_b = enrol(client, sign_up(client, identity_pool, email_b), clock)
    challenge_a = challenge_of(client, email_a)
    code_b = pyotp.TOTP(secret_b).at(clock.next_step())
    for code in (code_b, recovery_b[0]):
        refused = answer(client, challenge_a, code)
        assert refused.status_code == 401 and refused.json["type"].endswith("invalid-second-factor")
    assert login(client, email_b, totp=code_b).status_code == 200, "B's code was not spent on A"
    assert login(client, email_b, totp=recovery_b[0]).status_code == 200
    assert answer(client, challenge_a, pyotp.TOTP(secret_a).at(clock())).status_code == 200


def test_a_challenge_of_a_deleted_account_is_refused(identity, client, identity_pool, unique_email, clock):
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    challenge = challenge_of(client, unique_email)
    token = login(client, unique_email, totp=pyotp.TOTP(secret).at(clock.next_step())).json["access_token"]
    deleted = client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token))
    assert deleted.status_code == 204, deleted.json
    assert is_challenge_expired(answer(client, challenge, pyotp.TOTP(secret).at(clock.next_step())))


def test_wrong_codes_through_many_challenges_from_many_addresses_meet_the_emails_limit(
    make_identity, identity_pool, unique_email, clock
):
    client = throttled_client(make_identity, clock, free_failures=3)
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email), clock)
    for n in range(3):
        address = {"REMOTE_ADDR": f"198.51.100.{n + 1}"}
        challenge = challenge_of(client, unique_email)
        wrong = client.post(
            "/v1/sessions", json={"challenge": challenge, "totp": "000000"}, environ_base=address
        )
        assert wrong.status_code == 401, wrong.json
    right = pyotp.TOTP(secret).at(clock.next_step())
    blocked = client.post(
        "/v1/sessions",
        json={"challenge": challenge, "totp": right},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


def test_a_hash_renewed_at_login_never_undoes_a_reset_made_meanwhile(
    make_identity, identity_pool, unique_email, clock
):
    """A login reads the account, then renews its hash of older parameters: a reset committed in
    between keeps its new password, whether the login ends with a challenge or with the code."""
    _, old_client = identity_on(make_identity, clock, argon2_time_cost=1)
    secret, _ = enrol(old_client, sign_up(old_client, identity_pool, unique_email), clock)
    app, client = identity_on(make_identity, clock, argon2_time_cost=2)
    with identity_pool.connection() as conn:
        read_before_the_reset = account_store.find_account_by_email(conn, unique_email)
    assert read_before_the_reset is not None
    reset_password(client, identity_pool, unique_email)
    proven = sessions.Proven(read_before_the_reset, Password(PASSWORD))
    with pytest.raises(MfaRequired):
        sessions._challenge_if_second_factor(app, proven)
    with pytest.raises(InvalidCredentials):  # the password checked before the reset no longer logs in
        sessions._log_in(app, read_before_the_reset, pyotp.TOTP(secret).at(clock.next_step()), proven)
    assert login(client, unique_email).json["type"].endswith("invalid-credentials")
    with_new = client.post("/v1/sessions", json={"email": unique_email, "password": NEW_PASSWORD})
    assert with_new.json["type"].endswith("mfa-required")


def test_a_challenge_holds_through_a_key_rollover_and_not_past_its_keys_retirement(
    make_identity, identity_pool, unique_email, clock
):
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()

    def client_signing_with(*keys):
        app = make_identity(signing_keys_pem="\n".join(pem_of(key) for key in keys))
        app.clock = clock
        return create_app(app).test_client()

    before = client_signing_with(old)
    secret, _ = enrol(before, sign_up(before, identity_pool, unique_email), clock)
    challenge = challenge_of(before, unique_email)
    during = client_signing_with(new, old)
    assert answer(during, challenge, pyotp.TOTP(secret).at(clock.next_step())).status_code == 200
    after = client_signing_with(new)
    assert is_challenge_expired(answer(after, challenge, pyotp.TOTP(secret).at(clock.next_step())))
    assert answer(after, challenge_of(after, unique_email), pyotp.TOTP(secret).at(clock())).status_code == 200
