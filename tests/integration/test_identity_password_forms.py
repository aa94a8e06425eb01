"""A password is one password however its accents are typed: "é" as one character (Unicode NFC, most
keyboards) or as "e" and a combining accent (NFD, some keyboards, macOS pastes). Through identity's
HTTP API against the real database, including hashes made before identity prepared passwords in NFC,
which the first login that matches them replaces."""

import unicodedata

import pyotp
import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from identity.domain.limits import LoginThrottle
from identity.entrypoints.app import create_app
from tests.integration.conftest import bearer, latest_code, register, sign_up
from tests.integration.test_identity_login_challenge import answer, identity_on
from tests.integration.test_identity_staff import enrol

COMPOSED = "Crème-brûlée-42!"
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)
ATTACKER_PASSWORD = "Attacker-Knows-1!"


def login(client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/sessions", json={"email": email, "password": password})


def stored_hash(pool, email: str) -> str:  # type: ignore[no-untyped-def]
    with pool.connection() as conn:
        row = conn.execute("SELECT password_hash FROM accounts WHERE email = %s", (email,)).fetchone()
    return row[0]


def is_hash_of(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except VerifyMismatchError:
        return False


def plant_legacy_hash(identity, pool, email: str, password: str) -> str:  # type: ignore[no-untyped-def]
    """Give the account the hash identity made before it prepared passwords: of the password as typed."""
    legacy = identity.hasher.hash(password)
    with pool.connection() as conn:
        conn.execute("UPDATE accounts SET password_hash = %s WHERE email = %s", (legacy, email))
    return legacy


def test_a_password_signed_up_in_one_form_logs_in_typed_in_the_other(client, identity_pool, unique_email):
    assert COMPOSED != DECOMPOSED
    for n, (signed_up, typed) in enumerate(((COMPOSED, DECOMPOSED), (DECOMPOSED, COMPOSED))):
        email = f"{n}-{unique_email}"
        sign_up(client, identity_pool, email, signed_up)
        assert is_hash_of(stored_hash(identity_pool, email), COMPOSED)  # hashed in NFC, whatever was sent
        assert login(client, email, typed).status_code == 200, (signed_up, typed)
        assert login(client, email, signed_up).status_code == 200


def test_a_reset_and_a_deletion_take_the_password_in_either_form(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    client.post("/v1/password-resets", json={"email": unique_email})
    code = latest_code(identity_pool, unique_email, "password_reset")
    reset_token = client.post(
        "/v1/password-resets/verification", json={"email": unique_email, "code": code}
    ).json["reset_token"]
    completion = {"reset_token": reset_token, "new_password": DECOMPOSED}
    assert client.post("/v1/password-resets/completion", json=completion).status_code == 200
    logged_in = login(client, unique_email, COMPOSED)
    assert logged_in.status_code == 200
    token = logged_in.json["access_token"]
    deleted = client.delete("/v1/accounts/me", json={"password": DECOMPOSED}, headers=bearer(token))
    assert deleted.status_code == 204


def test_wrong_passwords_not_in_nfc_count_once_each(make_identity, identity_pool, unique_email):
    """Each login is one failure, though it tried two forms: a third wrong one would start the delay."""
    throttle = LoginThrottle(free_failures=3, base_delay_s=30)
    client = create_app(make_identity(login_throttle=throttle)).test_client()
    sign_up(client, identity_pool, unique_email, COMPOSED)
    wrong = unicodedata.normalize("NFD", "Crème-brûlée-43!")
    assert [login(client, unique_email, wrong).status_code for _ in range(2)] == [401, 401]
    assert login(client, unique_email, DECOMPOSED).status_code == 200


@pytest.mark.parametrize("first_typed", [DECOMPOSED, COMPOSED], ids=["as-set", "on-a-keyboard"])
def test_a_hash_of_a_decomposed_password_made_before_gives_way_to_one_in_nfc(
    client, identity, identity_pool, unique_email, first_typed
):
    sign_up(client, identity_pool, unique_email, COMPOSED)
    plant_legacy_hash(identity, identity_pool, unique_email, DECOMPOSED)
    with identity_pool.connection() as conn:
        changed_at = "SELECT password_changed_at FROM accounts WHERE email = %s"
        before = conn.execute(changed_at, (unique_email,)).fetchone()
    assert login(client, unique_email, first_typed).status_code == 200
    renewed = stored_hash(identity_pool, unique_email)
    assert is_hash_of(renewed, COMPOSED) and not is_hash_of(renewed, DECOMPOSED)
    with identity_pool.connection() as conn:  # a new hash, not a new password: its challenges stand
        assert conn.execute(changed_at, (unique_email,)).fetchone() == before
    for typed in (COMPOSED, DECOMPOSED, COMPOSED):
        assert login(client, unique_email, typed).status_code == 200, typed


def test_with_a_live_decoy_the_hash_in_nfc_keeps_the_salt_the_decoy_shares(
    client, identity, identity_pool, unique_email
):
    sign_up(client, identity_pool, unique_email, COMPOSED)
    legacy = plant_legacy_hash(identity, identity_pool, unique_email, DECOMPOSED)
    register(client, unique_email, ATTACKER_PASSWORD)  # a decoy, hashed with the legacy hash's salt
    assert login(client, unique_email, DECOMPOSED).status_code == 200
    renewed = stored_hash(identity_pool, unique_email)
    assert is_hash_of(renewed, COMPOSED)
    assert renewed.split("$")[-2] == legacy.split("$")[-2]
    assert login(client, unique_email, ATTACKER_PASSWORD).status_code == 403  # still "not verified yet"
    assert login(client, unique_email, COMPOSED).status_code == 200


def test_a_login_that_ends_with_the_challenge_renews_the_hash_too(
    make_identity, identity_pool, unique_email, clock
):
    identity, client = identity_on(make_identity, clock)
    secret, _ = enrol(client, sign_up(client, identity_pool, unique_email, COMPOSED), clock, COMPOSED)
    plant_legacy_hash(identity, identity_pool, unique_email, DECOMPOSED)
    refused = login(client, unique_email, DECOMPOSED)
    assert refused.status_code == 401 and refused.json["type"].endswith("mfa-required"), refused.json
    assert is_hash_of(stored_hash(identity_pool, unique_email), COMPOSED)
    code = pyotp.TOTP(secret).at(clock.next_step())
    assert answer(client, refused.json["challenge"], code).status_code == 200
