"""A web request behind a lock held elsewhere (a migration's ALTER TABLE, a chore's long transaction)
answers 503 problem+json with Retry-After once its service's request lock or statement timeout has
passed, instead of waiting until gunicorn kills its worker; a migration keeps waiting for its lock."""

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, LiteralString
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from identity.entrypoints import cli as identity_cli
from identity.entrypoints.app import create_app
from identity.migrations import IDENTITY_MIGRATIONS
from tests.conftest import migrated_database
from tests.integration.conftest import PASSWORD
from tests.integration.test_identity_rate_limits import address
from tests.support.locks import until_a_request_waits_for_a_lock

# The holder's transaction ends after this long idle: a request that would wait for ever (no request
# timeout) then goes through with its ordinary answer, and the test fails instead of hanging.
HOLDER_GIVES_UP: LiteralString = "'10s'"


@contextmanager
def table_locked(database_url: str, table: str) -> Iterator[psycopg.Connection]:
    """ACCESS EXCLUSIVE on `table` in an open transaction of another session, as an ALTER TABLE holds."""
    holder = psycopg.connect(database_url)
    try:
        holder.execute("SET idle_in_transaction_session_timeout = " + HOLDER_GIVES_UP)
        holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
        yield holder
    finally:
        holder.close()


def session_timeouts(pool: Any) -> tuple[str, str]:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.parametrize(
    ("lock_ms", "statement_ms", "shown"),
    [("200", "0", ("200ms", "0")), ("0", "200", ("0", "200ms"))],
    ids=["lock-timeout", "statement-timeout"],
)
def test_a_request_behind_a_held_lock_answers_503_with_retry_after(
    identity_db, monkeypatch, lock_ms, statement_ms, shown
):
    monkeypatch.setenv("IDENTITY_DATABASE_URL", identity_db)
    monkeypatch.setenv("IDENTITY_REQUEST_LOCK_TIMEOUT_MS", lock_ms)
    monkeypatch.setenv("IDENTITY_REQUEST_STATEMENT_TIMEOUT_MS", statement_ms)
    app = create_app()  # as a gunicorn worker builds it: its pool from the environment's settings
    pool = app.extensions["identity"].pool
    try:
        with table_locked(identity_db, "accounts"):
            response = app.test_client().post(  # from an address of its own: no other test's login limit
                "/v1/sessions",
                json={"email": f"{uuid4().hex}@example.org", "password": PASSWORD},
                environ_base={"REMOTE_ADDR": address()},
            )
        assert response.status_code == 503
        assert response.content_type == "application/problem+json"
        assert response.json["type"].endswith("/service-unavailable")
        assert int(response.headers["Retry-After"]) > 0
        assert session_timeouts(pool) == shown
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("service", "extension"),
    [
        ("identity", "identity"),
        ("catalogue", "catalogue"),
        ("newsletter", "newsletter"),
        ("mailer", "support"),
    ],
)
def test_every_web_pool_has_its_services_request_timeouts(
    service, extension, identity_db, tmp_path, monkeypatch
):
    prefix = service.upper()
    monkeypatch.setenv(f"{prefix}_DATABASE_URL", identity_db)  # any database: only the session is read
    monkeypatch.setenv(f"{prefix}_REQUEST_LOCK_TIMEOUT_MS", "1500")
    monkeypatch.setenv("CATALOGUE_STORAGE_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("CATALOGUE_UPLOAD_ROOT", str(tmp_path / "uploads"))
    app = importlib.import_module(f"{service}.entrypoints.app").create_app()
    pool = app.extensions[extension].pool
    try:
        assert session_timeouts(pool) == ("1500ms", "5s")  # the default statement timeout: 5000 ms
    finally:
        pool.close()


def test_a_migration_outwaits_the_request_timeout_behind_a_held_lock(infra, monkeypatch, capsys):
    """`identity migrate` under a request lock timeout of 100 ms still waits for the lock its ALTER
    TABLE needs: past the point a request on the same table was cut off, then it applies."""
    url = migrated_database(infra, f"timeouts_migrate_{uuid4().hex[:8]}", IDENTITY_MIGRATIONS)
    with psycopg.connect(url, autocommit=True) as conn:  # 007 pending again, as after an upgrade
        conn.execute("ALTER TABLE known_accounts DROP COLUMN locale")
        conn.execute("DELETE FROM schema_migrations WHERE component = 'accounts_common' AND version = 7")
    monkeypatch.setenv("IDENTITY_DATABASE_URL", url)
    monkeypatch.setenv("IDENTITY_REQUEST_LOCK_TIMEOUT_MS", "100")
    failures: list[BaseException] = []

    def migrate() -> None:
        try:
            identity_cli.main(["migrate"])
        except BaseException as error:  # noqa: BLE001 - reported by the test's thread
            failures.append(error)

    app = create_app()
    pool = app.extensions["identity"].pool
    migrating = threading.Thread(target=migrate)
    try:
        with table_locked(url, "known_accounts") as holder:
            migrating.start()
            until_a_request_waits_for_a_lock(url)
            with pytest.raises(psycopg.errors.LockNotAvailable), pool.connection() as conn:
                conn.execute("SELECT count(*) FROM known_accounts")
            assert migrating.is_alive()  # still waiting, past the request's timeout
            holder.rollback()
            migrating.join(30)
    finally:
        pool.close()
    assert not migrating.is_alive() and failures == []
    assert "identity: 1 migration(s) applied" in capsys.readouterr().out
