"""Service commands against a real database: one that `migrate` has not prepared is one line that
says so, not a traceback; `identity staff` says what it did, or that there was nothing to do."""

import importlib
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from catalogue.migrations import CATALOGUE_MIGRATIONS
from identity.entrypoints import cli as identity_cli
from identity.migrations import IDENTITY_MIGRATIONS
from tests.conftest import Infra, fresh_database, migrated_database


@pytest.mark.parametrize(
    ("service", "argv"), [("identity", ["staff", "list"]), ("catalogue", ["generate", "1"])]
)
def test_an_unmigrated_database_asks_for_migrate(service, argv, infra, monkeypatch):
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", fresh_database(infra, f"cli_{service}"))
    with pytest.raises(SystemExit) as done:
        importlib.import_module(f"{service}.entrypoints.cli").main(argv)
    message = str(done.value.code)
    assert message.startswith(f"{service}: ") and message.endswith(f"(has `{service} migrate` run?)")
    assert "\n" not in message


@pytest.fixture
def staff_database(infra, monkeypatch) -> str:
    """A database of its own with one verified account, ana@example.org, and no staff yet."""
    url = migrated_database(infra, f"cli_staff_{uuid4().hex[:8]}", IDENTITY_MIGRATIONS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO accounts (id, email, verified_at) VALUES (%s, 'ana@example.org', now())", (uuid4(),)
        )
    monkeypatch.setenv("IDENTITY_DATABASE_URL", url)
    return url


def staff(capsys, *argv: str) -> tuple[str, str]:
    identity_cli.main(["staff", *argv])
    printed = capsys.readouterr()
    return printed.out, printed.err


def test_staff_list_says_when_there_is_no_staff_yet(staff_database, capsys):
    assert staff(capsys, "list") == ("", "identity: no account has a staff role yet\n")


def test_a_grant_or_revoke_that_changes_nothing_says_so_and_succeeds(staff_database, capsys):
    assert (
        staff(capsys, "grant", "ana@example.org", "admin")[0]
        == "identity: admin granted to ana@example.org\n"
    )
    assert staff(capsys, "grant", "ana@example.org", "admin")[0] == (
        "identity: ana@example.org already has admin (nothing to change)\n"
    )
    assert staff(capsys, "list") == ("ana@example.org\tadmin\tno second factor yet\n", "")
    assert staff(capsys, "revoke", "ana@example.org", "support")[0] == (
        "identity: ana@example.org does not have support (nothing to change)\n"
    )


def test_housekeeping_prints_a_sentence_not_a_python_dict(staff_database, capsys):
    identity_cli.main(["housekeeping"])
    printed = capsys.readouterr().out
    assert printed.startswith("identity: housekeeping deleted 0 registrations, 0 accounts, 0 sessions, ")
    assert "{" not in printed and printed.count("\n") == 1


def test_seed_with_no_storage_to_reach_is_one_line(infra, monkeypatch):
    url = migrated_database(infra, f"cli_seed_{uuid4().hex[:8]}", CATALOGUE_MIGRATIONS)
    monkeypatch.setenv("CATALOGUE_DATABASE_URL", url)
    monkeypatch.setenv("CATALOGUE_STORAGE", "s3://cli-review-bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(SystemExit) as done:
        importlib.import_module("catalogue.entrypoints.cli").main(["seed"])
    message = str(done.value.code)
    assert message.startswith("catalogue seed: the storage did not answer: s3://cli-review-bucket/")
    assert "\n" not in message


class Role:
    """A login role of a test's own, with no privilege but PUBLIC's (connect, use the public schema)
    and those the test grants it; dropped with its grants afterwards."""

    def __init__(self, infra: Infra) -> None:
        self.infra, self.name, self.granted_in = infra, f"cli_migrator_{uuid4().hex[:8]}", set[str]()
        # A password too: the containers' PostgreSQL authenticates every login by password.
        self.password = uuid4().hex
        self._run(infra.postgres, "CREATE ROLE {} LOGIN PASSWORD {}", sql.Literal(self.password))

    def grant(self, url: str, privileges: str) -> None:
        """`GRANT <privileges> TO` the role, e.g. "SELECT, INSERT ON schema_migrations"."""
        self.granted_in.add(url)
        self._run(url, f"GRANT {privileges} TO {{}}")

    def migrate(self, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
        """What `identity migrate` run as the role on the database at `url` exits with."""
        as_role = psycopg.conninfo.make_conninfo(url, user=self.name, password=self.password)
        monkeypatch.setenv("IDENTITY_DATABASE_URL", as_role)
        with pytest.raises(SystemExit) as done:
            identity_cli.main(["migrate"])
        return str(done.value.code)

    def drop(self) -> None:
        for url in self.granted_in:
            self._run(url, "DROP OWNED BY {}")  # its grants there
        self._run(self.infra.postgres, "DROP ROLE {}")

    def _run(self, url: str, statement: str, *more: sql.Composable) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(self.name), *more))  # type: ignore[arg-type]


@pytest.fixture
def unprivileged(infra: Infra) -> Iterator[Role]:
    role = Role(infra)
    yield role
    role.drop()


REFUSED_ADVICE = (
    "run `identity migrate` as the role that owns the database and its tables "
    "(the user of IDENTITY_DATABASE_URL)"
)


def test_migrate_by_a_role_that_may_not_create_tables_says_so_in_one_line(infra, unprivileged, monkeypatch):
    url = fresh_database(infra, f"cli_refused_{uuid4().hex[:8]}")
    assert unprivileged.migrate(url, monkeypatch) == (
        "identity: migrate refused at schema_migrations (the record of the migrations applied): "
        f"permission denied for schema public (SQLSTATE 42501): {REFUSED_ADVICE}"
    )


def test_migrate_by_a_role_that_does_not_own_the_table_names_the_migration(infra, unprivileged, monkeypatch):
    url = migrated_database(infra, f"cli_not_owner_{uuid4().hex[:8]}", IDENTITY_MIGRATIONS)
    with psycopg.connect(url, autocommit=True) as conn:  # 007 pending again, as after an upgrade
        conn.execute("ALTER TABLE known_accounts DROP COLUMN locale")
        conn.execute("DELETE FROM schema_migrations WHERE component = 'accounts_common' AND version = 7")
    unprivileged.grant(url, "CREATE ON SCHEMA public")
    unprivileged.grant(url, "SELECT, INSERT ON schema_migrations")
    assert unprivileged.migrate(url, monkeypatch) == (
        "identity: migrate refused at accounts_common/007_known_accounts_locale.sql: "
        f"must be owner of table known_accounts (SQLSTATE 42501): {REFUSED_ADVICE}"
    )


def test_migrate_with_nothing_to_apply_needs_no_create_privilege(infra, unprivileged, monkeypatch, capsys):
    """A deployment may run `migrate` before every start as a role that only reads the record: with
    every migration applied, nothing is created, so nothing needs CREATE on the schema."""
    url = migrated_database(infra, f"cli_up_to_date_{uuid4().hex[:8]}", IDENTITY_MIGRATIONS)
    unprivileged.grant(url, "SELECT ON schema_migrations")
    monkeypatch.setenv(
        "IDENTITY_DATABASE_URL",
        psycopg.conninfo.make_conninfo(url, user=unprivileged.name, password=unprivileged.password),
    )
    identity_cli.main(["migrate"])
    assert capsys.readouterr().out == "identity: 0 migration(s) applied\n"
