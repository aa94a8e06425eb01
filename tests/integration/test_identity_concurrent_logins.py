"""Logins of one account at the same instant, against the real database: the throttle of wrong second
factors holds when the guesses come together, not only one after another."""

import threading
from concurrent.futures import ThreadPoolExecutor

from identity.domain.limits import LoginThrottle
from identity.entrypoints.app import create_app
from tests.integration.conftest import PASSWORD, Clock
from tests.integration.test_identity_staff import enrol, sign_up

GUESSES = 6


class TogetherHasher:
    """identity's hasher, holding every login at the end of its password check until all have
    reached it: the guesses then meet the second factor at the same time, as a burst would."""

    def __init__(self, hasher, parties: int) -> None:  # type: ignore[no-untyped-def]
        self._hasher = hasher
        self._together = threading.Barrier(parties)

    def hash_like(self, stored: str, password: str) -> str:
        candidate = self._hasher.hash_like(stored, password)
        self._together.wait(timeout=10)
        return candidate

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._hasher, name)


def test_wrong_codes_sent_together_are_throttled_like_wrong_codes_sent_in_turn(
    make_identity, identity_pool, unique_email
):
    app = make_identity(login_throttle=LoginThrottle(free_failures=2, base_delay_s=30))
    app.clock = Clock()
    web = create_app(app)
    client = web.test_client()
    enrol(client, sign_up(client, identity_pool, unique_email), app.clock)
    app.hasher = TogetherHasher(app.hasher, GUESSES)  # type: ignore[assignment]

    def guess(code: str) -> int:
        credentials = {"email": unique_email, "password": PASSWORD, "totp": code}
        return web.test_client().post("/v1/sessions", json=credentials).status_code

    with ThreadPoolExecutor(GUESSES) as pool:
        statuses = sorted(pool.map(guess, [f"{n:06d}" for n in range(GUESSES)]))
    # The second wrong code starts the delay: the guesses behind it wait, as they would one by one.
    assert statuses == [401, 401] + [429] * (GUESSES - 2)


def test_wrong_passwords_sent_together_are_throttled_like_wrong_passwords_sent_in_turn(
    make_identity, identity_pool, unique_email
):
    app = make_identity(login_throttle=LoginThrottle(free_failures=2, base_delay_s=30))
    web = create_app(app)
    sign_up(web.test_client(), identity_pool, unique_email)
    app.hasher = TogetherHasher(app.hasher, GUESSES)  # type: ignore[assignment]

    def guess(password: str) -> int:
        credentials = {"email": unique_email, "password": password}
        return web.test_client().post("/v1/sessions", json=credentials).status_code

    with ThreadPoolExecutor(GUESSES) as pool:
        statuses = sorted(pool.map(guess, [f"{PASSWORD}-wrong-{n}" for n in range(GUESSES)]))
    # Those judged after the delay started are told to wait, not whether they were right.
    assert statuses == [401, 401] + [429] * (GUESSES - 2)
