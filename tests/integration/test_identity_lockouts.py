"""No lockout by proxy: an attacker who registers or resets someone's address from one place uses
up their own allowance (per email and requesting IP), so the owner, from elsewhere, still gets a
code; a higher cap per email from every IP together still bounds a distributed attack."""

from identity.domain.limits import Limit
from identity.settings import RateLimits
from tests.integration.conftest import PASSWORD, mailed_codes, register, sign_up, verify
from tests.integration.test_identity_rate_limits import address, assert_rate_limited, client_from, limits

ATTACKER_PASSWORD = "Attacker-Knows-1!"


def test_five_registrations_by_an_attacker_do_not_stop_the_owner_from_getting_a_code(
    make_identity, identity_pool, unique_email
):
    identity = make_identity(rate_limits=RateLimits())  # the production defaults
    attacker = client_from(identity)
    for _ in range(identity.settings.rate_limits.register_per_email.hits):
        register(attacker, unique_email, ATTACKER_PASSWORD)
    blocked = attacker.post("/v1/accounts", json={"email": unique_email, "password": ATTACKER_PASSWORD})
    assert_rate_limited(blocked, 3600)

    owner = client_from(identity)
    registration = register(owner, unique_email, PASSWORD)
    codes = mailed_codes(identity_pool, unique_email)
    assert len(codes) == 6  # the attacker's five, and the owner's own
    assert verify(owner, unique_email, registration, codes[0]).status_code == 200


def test_five_resets_by_an_attacker_do_not_stop_the_owner_from_getting_a_code(
    make_identity, identity_pool, unique_email
):
    identity = make_identity(rate_limits=RateLimits(), resend_cooldown_s=0)
    sign_up(client_from(identity), identity_pool, unique_email)
    attacker = client_from(identity)
    for _ in range(identity.settings.rate_limits.reset_per_email.hits):
        assert attacker.post("/v1/password-resets", json={"email": unique_email}).status_code == 202
    assert_rate_limited(attacker.post("/v1/password-resets", json={"email": unique_email}), 3600)
    assert len(mailed_codes(identity_pool, unique_email, "password_reset")) == 5

    owner = client_from(identity)
    assert owner.post("/v1/password-resets", json={"email": unique_email}).status_code == 202
    assert len(mailed_codes(identity_pool, unique_email, "password_reset")) == 6


def test_every_requester_together_still_meets_a_cap_per_email(make_identity, identity_pool, unique_email):
    identity = make_identity(
        rate_limits=limits(register_per_email=Limit(5, 3600), register_per_email_all=Limit(3, 3600)),
        codes_per_hour=5,
        codes_per_hour_all=2,
    )
    for _ in range(3):
        register(client_from(identity), unique_email, ATTACKER_PASSWORD)
    assert len(mailed_codes(identity_pool, unique_email)) == 2  # codes from everyone: capped at 2
    fourth = client_from(identity).post("/v1/accounts", json={"email": unique_email, "password": PASSWORD})
    assert_rate_limited(fourth, 3600)


def test_one_requester_meets_the_code_cap_of_its_own(make_identity, identity_pool, unique_email):
    identity = make_identity(codes_per_hour=2, codes_per_hour_all=20)
    same_place = address()
    for _ in range(3):
        register(client_from(identity, same_place), unique_email, ATTACKER_PASSWORD)
    assert len(mailed_codes(identity_pool, unique_email)) == 2
    register(client_from(identity), unique_email, PASSWORD)
    assert len(mailed_codes(identity_pool, unique_email)) == 3
