"""Operations endpoints of identity: readiness tells a database outage with 503."""

from psycopg_pool import ConnectionPool

from identity.bootstrap import bootstrap
from identity.entrypoints.app import create_app
from tests.support.outbox import oldest_pending_age
from tests.support.processes import free_port


def test_readyz_is_503_when_the_database_does_not_answer(make_identity):
    settings = make_identity().settings
    unreachable = ConnectionPool(f"postgresql://postgres@127.0.0.1:{free_port()}/none", min_size=1, open=True)
    try:
        client = create_app(bootstrap(settings, pool=unreachable)).test_client()
        response = client.get("/readyz")
    finally:
        unreachable.close()
    assert response.status_code == 503
    assert response.json == {"status": "not ready", "checks": {"database": False, "migrations": False}}
    assert client.get("/healthz").status_code == 200


def test_metrics_tell_how_long_the_oldest_unpublished_event_has_waited(client, unique_email):
    assert (
        client.post("/v1/accounts", json={"email": unique_email, "password": "Correct-Horse-9!"}).status_code
        == 202
    )
    age = oldest_pending_age(client.get("/metrics").text)
    assert age is not None and age > 0  # no relay runs here: at least the event just written waits


def test_metrics_answer_without_the_outbox_age_when_the_database_does_not(make_identity):
    settings = make_identity().settings
    unreachable = ConnectionPool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/none", min_size=1, open=True, timeout=1
    )
    try:
        response = create_app(bootstrap(settings, pool=unreachable)).test_client().get("/metrics")
    finally:
        unreachable.close()
    assert response.status_code == 200
    assert "http_request_duration_seconds" in response.text
    assert oldest_pending_age(response.text) is None
