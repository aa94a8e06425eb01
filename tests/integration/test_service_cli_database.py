"""Service commands against a real database: one that `migrate` has not prepared is one line that
says so, not a traceback; `identity staff` says what it did, or that there was nothing to do."""

import importlib
from uuid import uuid4

import psycopg
import pytest

from catalogue.migrations import CATALOGUE_MIGRATIONS
from identity.entrypoints import cli as identity_cli
from identity.migrations import IDENTITY_MIGRATIONS
from tests.conftest import fresh_database, migrated_database


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
