"""A service's web process is ready only once its database holds the migrations its code knows: in
k8s the migration Job runs beside the rollout, and a pod ready before it would answer 500s."""

import uuid

from accounts_common.db import COMMON_MIGRATIONS, create_pool, migrate
from accounts_common.web import create_database_app
from identity.migrations import IDENTITY_MIGRATIONS
from tests.conftest import Infra, fresh_database


def test_readyz_waits_for_every_migration_of_the_code_and_not_for_newer_ones(infra: Infra):
    url = fresh_database(infra, f"test_ready_migrated_{uuid.uuid4().hex[:8]}")
    with create_pool(url, name="test-readiness-migrations") as pool:
        app = create_database_app("identity", blueprints=[], pool=pool, migrations=IDENTITY_MIGRATIONS)
        client = app.test_client()
        empty = client.get("/readyz")
        migrate(url, COMMON_MIGRATIONS)
        shared_only = client.get("/readyz")
        migrate(url, COMMON_MIGRATIONS, IDENTITY_MIGRATIONS)
        migrated = client.get("/readyz")

        # A database migrated further than this code (a rollback of the code) still serves it.
        newer_app = create_database_app("identity", blueprints=[], pool=pool, migrations=IDENTITY_MIGRATIONS)
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ('identity', 9999, 'x')"
            )
        newer = newer_app.test_client().get("/readyz")

    assert (empty.status_code, empty.json) == (
        503,
        {"status": "not ready", "checks": {"database": True, "migrations": False}},
    )
    assert (shared_only.status_code, shared_only.json["checks"]) == (
        503,
        {"database": True, "migrations": False},
    )
    assert (migrated.status_code, migrated.json) == (
        200,
        {"status": "ready", "checks": {"database": True, "migrations": True}},
    )
    assert newer.status_code == 200
