"""An account deleted by its owner at the same instant as a step of its password reset, against the
real database: each request ends in one of its documented answers, never in a deadlock (a 503)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from identity.adapters import staff
from identity.entrypoints.app import create_app
from tests.integration.conftest import NEW_PASSWORD, PASSWORD, bearer, latest_code, sign_up
from tests.support.locks import until_a_request_waits_for_a_lock


def reset_code_step(client, pool, email):  # type: ignore[no-untyped-def]
    """The reset's code step (trading the code for a reset token), ready to send."""
    client.post("/v1/password-resets", json={"email": email})
    body = {"email": email, "code": latest_code(pool, email, "password_reset")}
    return "/v1/password-resets/verification", body, "invalid-code"


def reset_completion_step(client, pool, email):  # type: ignore[no-untyped-def]
    """The reset's last step (the new password with the reset token), ready to send."""
    path, body, _ = reset_code_step(client, pool, email)
    reset_token = client.post(path, json=body).json["reset_token"]
    body = {"reset_token": reset_token, "new_password": NEW_PASSWORD}
    return "/v1/password-resets/completion", body, "invalid-reset-token"


@pytest.mark.parametrize("step", [reset_code_step, reset_completion_step])
def test_a_deletion_and_a_reset_step_at_once_never_deadlock(
    make_identity, identity_pool, identity_db, unique_email, monkeypatch, step
):
    web = create_app(make_identity())
    token = sign_up(web.test_client(), identity_pool, unique_email)
    path, body, refused = step(web.test_client(), identity_pool, unique_email)
    deleting = threading.Event()
    sole_admin = staff.sole_admin

    def hold_the_deletion(conn, account_id):  # type: ignore[no-untyped-def]
        # The deletion holds its lock on the account here: the reset step starts, and the deletion goes
        # on once the step waits for a lock.
        deleting.set()
        until_a_request_waits_for_a_lock(identity_db)
        return sole_admin(conn, account_id)

    monkeypatch.setattr(staff, "sole_admin", hold_the_deletion)

    def delete() -> int:
        me = web.test_client().delete("/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token))
        return me.status_code

    def reset_step() -> tuple[int, str]:
        assert deleting.wait(timeout=10)
        response = web.test_client().post(path, json=body)
        return response.status_code, response.json["type"]

    with ThreadPoolExecutor(2) as pool:
        deleted, stepped = pool.submit(delete), pool.submit(reset_step)
        # The deletion came first: the account is gone, and the reset step is refused as for a gone one.
        assert (deleted.result(), stepped.result()) == (204, (400, f"/problems/{refused}"))
