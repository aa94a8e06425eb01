"""With its database unreachable, identity answers 503 problem+json with Retry-After, never a 500."""

import pytest

from accounts_common.db import create_pool
from identity.entrypoints.app import create_app
from tests.integration.conftest import PASSWORD
from tests.support.processes import free_port


@pytest.fixture
def cut_off_client(make_identity):  # type: ignore[no-untyped-def]
    # Nothing listens on that port: every connection attempt fails, as during a PostgreSQL crash.
    with create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/identity", name="dead", timeout_s=1
    ) as pool:
        identity = make_identity()
        identity.pool = pool
        yield create_app(identity).test_client()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/accounts", {"email": "someone@example.org", "password": PASSWORD}),
        ("/v1/sessions", {"email": "someone@example.org", "password": PASSWORD}),
        ("/v1/password-resets", {"email": "someone@example.org"}),
    ],
)
def test_a_database_outage_is_503_with_retry_after(cut_off_client, path, body):
    response = cut_off_client.post(path, json=body)
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("service-unavailable")
    assert int(response.headers["Retry-After"]) > 0


def test_a_405_names_the_allowed_methods(client):
    response = client.delete("/v1/accounts/verification")
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert "POST" in {method.strip() for method in response.headers["Allow"].split(",")}
