"""Wrong second factors against the real database: a password reset forgets the wrong passwords
counted against an email, never its wrong TOTP or recovery codes. So someone who holds the mailbox
but not the phone cannot reset, guess, and reset again to guess faster than the delay allows. The
owner's ways back stay: the delay's end, and an operator's `identity staff reset-totp`."""

import argparse

import pyotp

from identity.domain.limits import LoginThrottle
from identity.entrypoints.staff_cli import run_staff_command
from identity.service_layer import sessions
from tests.integration.conftest import NEW_PASSWORD, PASSWORD, bearer, reset_password, sign_up
from tests.integration.test_identity_login_challenge import answer, identity_on
from tests.integration.test_identity_staff import enrol


def enrolled_and_blocked(make_identity, identity_pool, email, clock):
    """An identity that delays logins after two failures, an enrolled account of `email` whose two
    wrong codes started the delay, and its client and TOTP secret."""
    throttle = LoginThrottle(free_failures=2, base_delay_s=60)
    app, client = identity_on(make_identity, clock, login_throttle=throttle)
    secret, _ = enrol(client, sign_up(client, identity_pool, email), clock)
    for _ in range(2):
        wrong = client.post("/v1/sessions", json={"email": email, "password": PASSWORD, "totp": "000000"})
        assert wrong.status_code == 401 and wrong.json["type"].endswith("invalid-second-factor")
    return app, client, secret


def login(client, email, password, **extra):
    return client.post("/v1/sessions", json={"email": email, "password": password, **extra})


def right_code(client, email, secret, clock):
    return login(client, email, PASSWORD, totp=pyotp.TOTP(secret).at(clock.next_step()))


def is_rate_limited(response) -> bool:
    return response.status_code == 429 and int(response.headers["Retry-After"]) > 0


def test_a_password_reset_leaves_the_wrong_codes_counted(make_identity, identity_pool, unique_email, clock):
    _, client, secret = enrolled_and_blocked(make_identity, identity_pool, unique_email, clock)
    reset_password(client, identity_pool, unique_email)
    # The new password works at once (the wrong passwords are forgotten): it earns the challenge...
    refused = login(client, unique_email, NEW_PASSWORD)
    assert refused.status_code == 401 and refused.json["type"].endswith("mfa-required"), refused.json
    # ...but the code still waits, whichever way it comes.
    right = pyotp.TOTP(secret).at(clock.next_step())
    assert is_rate_limited(answer(client, refused.json["challenge"], right))
    assert is_rate_limited(login(client, unique_email, NEW_PASSWORD, totp=right))


def test_the_delays_end_lets_the_right_code_in_and_forgets_the_wrong_ones(
    make_identity, identity_pool, unique_email, clock
):
    app, client, secret = enrolled_and_blocked(make_identity, identity_pool, unique_email, clock)
    with identity_pool.connection() as conn:  # the delay runs out
        conn.execute(
            "UPDATE login_failures SET blocked_until = now() WHERE bucket = %s",
            (sessions.second_factor_throttle_bucket(app, unique_email),),
        )
    assert right_code(client, unique_email, secret, clock).status_code == 200
    # Forgotten with the right code: one more wrong one is a free failure again, and no delay follows.
    assert login(client, unique_email, PASSWORD, totp="000000").status_code == 401
    assert right_code(client, unique_email, secret, clock).status_code == 200


def test_an_operators_reset_of_the_second_factor_lets_the_owner_in_and_enrol_anew(
    make_identity, identity_pool, unique_email, clock
):
    app, client, _ = enrolled_and_blocked(make_identity, identity_pool, unique_email, clock)
    run_staff_command(app, argparse.Namespace(staff_action="reset-totp", email=unique_email, role=""))
    again = login(client, unique_email, PASSWORD)
    assert again.status_code == 200, again.json
    secret, _ = enrol(client, again.json["access_token"], clock)
    token = login(client, unique_email, PASSWORD, totp=pyotp.TOTP(secret).at(clock.next_step()))
    assert token.status_code == 200, token.json
    assert client.get("/v1/accounts/me", headers=bearer(token.json["access_token"])).status_code == 200
