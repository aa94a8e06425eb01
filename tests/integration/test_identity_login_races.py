"""A login whose password was checked just before the account was deleted or its password reset:
the login is refused with a problem, never a 500 nor a token that is dead on arrival."""

import pytest

from identity.adapters import account_store
from identity.domain.passwords import Password
from identity.service_layer import password_resets, sessions
from tests.integration.conftest import NEW_PASSWORD, PASSWORD, bearer, latest_code, sign_up


@pytest.fixture
def between_check_and_token(monkeypatch):  # type: ignore[no-untyped-def]
    """Run `meanwhile(account)` after the login's password check and before its token is issued."""

    def install(meanwhile):  # type: ignore[no-untyped-def]
        checked = sessions._check_password

        def then(app, email, password):  # type: ignore[no-untyped-def]
            proven = checked(app, email, password)
            meanwhile(app, proven.account)
            return proven

        monkeypatch.setattr(sessions, "_check_password", then)

    return install


def log_in(client, email):  # type: ignore[no-untyped-def]
    return client.post("/v1/sessions", json={"email": email, "password": PASSWORD})


def test_a_login_racing_the_accounts_deletion_is_401_not_500(
    client, identity_pool, unique_email, between_check_and_token
):
    sign_up(client, identity_pool, unique_email)

    def delete(app, account):  # type: ignore[no-untyped-def]
        with app.pool.connection() as conn, conn.transaction():
            account_store.delete_account(conn, account.id)

    between_check_and_token(delete)
    response = log_in(client, unique_email)
    assert response.status_code == 401, response.json
    assert response.json["type"].endswith("invalid-credentials")


def test_a_login_racing_a_password_reset_gets_no_token(
    client, identity_pool, unique_email, between_check_and_token
):
    sign_up(client, identity_pool, unique_email)

    def reset(app, account):  # type: ignore[no-untyped-def]
        password_resets.request_reset(app, account.email)
        code = latest_code(identity_pool, account.email, "password_reset")
        token = password_resets.verify_reset_code(app, account.email, code)
        password_resets.complete_reset(app, token.reset_token, Password(NEW_PASSWORD))

    between_check_and_token(reset)
    response = log_in(client, unique_email)
    if response.status_code == 200:  # a token issued for the old password must at least open nothing
        assert client.get("/v1/accounts/me", headers=bearer(response.json["access_token"])).status_code == 401
    assert response.status_code == 401, "the old password no longer logs in: it must not answer 200"
    assert response.json["type"].endswith("invalid-credentials")
