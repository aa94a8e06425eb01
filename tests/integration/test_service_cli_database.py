"""A service's command run against a database its `migrate` has not prepared: one line that says so,
not a traceback."""

import importlib

import pytest

from tests.conftest import fresh_database


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
