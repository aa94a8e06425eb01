"""Operations endpoints of identity: readiness tells a database outage with 503."""

from psycopg_pool import ConnectionPool

from identity.bootstrap import bootstrap
from identity.entrypoints.app import create_app
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
    assert response.json == {"status": "not ready", "checks": {"database": False}}
    assert client.get("/healthz").status_code == 200
