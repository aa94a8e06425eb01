"""Verifications of a pending account at the same instant as other requests about it, against the real
database: each ends in one of its documented answers, never in a deadlock (a 503)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from accounts_common.clock import utc_now
from accounts_common.roles import Role
from identity.entrypoints.app import create_app
from tests.integration.conftest import bearer, latest_code, register, staff_token
from tests.support.locks import until_a_request_waits_for_a_lock

SUBMISSIONS = 4


class TogetherLimiter:
    """identity's rate limiter, holding each verification after its per-IP count until all have
    reached it: their transactions then start at the same time, as a double click's would."""

    def __init__(self, limiter, parties: int) -> None:  # type: ignore[no-untyped-def]
        self._limiter = limiter
        self._together = threading.Barrier(parties)

    def hit(self, conn, key, limit):  # type: ignore[no-untyped-def]
        decision = self._limiter.hit(conn, key, limit)
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:  # the per-IP count
            self._together.wait(timeout=10)
        return decision

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._limiter, name)


@pytest.mark.parametrize("round_", range(5))
def test_of_a_codes_submissions_sent_together_one_verifies_and_the_others_are_told_it_is_spent(
    make_identity, identity_pool, unique_email, round_
):
    app = make_identity()
    web = create_app(app)
    registration_id = register(web.test_client(), unique_email)
    body = {
        "email": unique_email,
        "registration_id": registration_id,
        "code": latest_code(identity_pool, unique_email),
    }
    app.limiter = TogetherLimiter(app.limiter, SUBMISSIONS)  # type: ignore[assignment]

    def submit(_: int) -> tuple[int, str]:
        response = web.test_client().post("/v1/accounts/verification", json=body)
        return response.status_code, response.json.get("type") or response.json["status"]

    with ThreadPoolExecutor(SUBMISSIONS) as pool:
        answers = sorted(pool.map(submit, range(SUBMISSIONS)))
    assert answers == [(200, "verified")] + [(400, "/problems/invalid-code")] * (SUBMISSIONS - 1)


class EraseWhileVerifying:
    """identity's clock, read by a verification once it holds its locks: it lets support's erasure of
    the account start then, and goes on only once the erasure waits for a lock."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.verifying = threading.Event()

    def __call__(self):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "verify":
            self.verifying.set()
            until_a_request_waits_for_a_lock(self.database_url)
        return utc_now()


def test_support_erasing_a_pending_account_while_its_owner_verifies_it_never_deadlocks(
    make_identity, identity_pool, identity_db, unique_email
):
    app = make_identity()
    web = create_app(app)
    support = bearer(staff_token(app, identity_pool, Role.SUPPORT))
    registration_id = register(web.test_client(), unique_email)
    body = {
        "email": unique_email,
        "registration_id": registration_id,
        "code": latest_code(identity_pool, unique_email),
    }
    clock = app.clock = EraseWhileVerifying(identity_db)

    def verify() -> int:
        threading.current_thread().name = "verify"
        return web.test_client().post("/v1/accounts/verification", json=body).status_code

    def erase() -> int:
        assert clock.verifying.wait(timeout=10)
        erasure = {"email": unique_email, "reason": "asked by phone"}
        return (
            web.test_client().post("/v1/support/accounts/erasures", json=erasure, headers=support).status_code
        )

    with ThreadPoolExecutor(2) as pool:
        verified, erased = pool.submit(verify), pool.submit(erase)
        # The owner's code came first: verified, then erased as support asked.
        assert (verified.result(), erased.result()) == (200, 204)
