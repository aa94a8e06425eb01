"""One loader reads every service's settings: defaults written once, every field settable from its
variable, bad values refused with the variable's name, unknown variables of the service warned about."""

import dataclasses
import importlib
import logging
from dataclasses import dataclass

import pytest

from accounts_common.config import (
    REQUEST_LOCK_TIMEOUT_MS,
    REQUEST_STATEMENT_TIMEOUT_MS,
    FromEnvironment,
    SettingError,
    at_least,
    load_settings,
    setting,
    without_trailing_slash,
)

SERVICES = ("identity", "mailer", "catalogue", "newsletter", "portal")


@dataclass(frozen=True)
class Window:
    hits: int = 10
    seconds: float = 60.0


@dataclass(frozen=True)
class Toy(FromEnvironment):
    env_prefix = "TOY"

    name: str
    count: int = 3
    ratio: float = 0.5
    loud: bool = False
    url: str = setting("http://a.example", parse=without_trailing_slash)
    lanes: int = setting(8, parse=at_least(1))
    shared: str = setting("here", env="SHARED_PLACE")
    window: Window = setting(factory=Window, env="TOY_LIMIT")


@pytest.fixture
def toy_env(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TOY_NAME", "toy")
    return monkeypatch


def test_unset_variables_leave_the_defaults(toy_env):
    assert Toy.from_env() == Toy(name="toy")


def test_each_field_is_read_from_its_variable_and_parsed_by_its_type(toy_env):
    for variable, value in {
        "TOY_COUNT": "7",
        "TOY_RATIO": "0.25",
        "TOY_LOUD": "yes",
        "TOY_URL": "https://b.example/",
        "TOY_LANES": "2",
        "SHARED_PLACE": "there",
        "TOY_LIMIT_HITS": "5",
        "TOY_LIMIT_SECONDS": "1.5",
    }.items():
        toy_env.setenv(variable, value)
    assert Toy.from_env() == Toy("toy", 7, 0.25, True, "https://b.example", 2, "there", Window(5, 1.5))


def test_an_empty_variable_counts_as_unset(toy_env):
    toy_env.setenv("TOY_COUNT", "")
    assert Toy.from_env().count == 3


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TOY_COUNT", "many", "TOY_COUNT: must be an integer, got 'many'"),
        ("TOY_RATIO", "half", "TOY_RATIO: must be a number, got 'half'"),
        ("TOY_LOUD", "maybe", "TOY_LOUD: must be true or false, got 'maybe'"),
        ("TOY_LANES", "0", "TOY_LANES: must be at least 1, got 0"),
        ("TOY_LIMIT_HITS", "lots", "TOY_LIMIT_HITS: must be an integer, got 'lots'"),
    ],
)
def test_a_bad_value_is_refused_with_the_name_of_its_variable(toy_env, variable, value, message):
    toy_env.setenv(variable, value)
    with pytest.raises(SettingError) as refused:
        Toy.from_env()
    assert str(refused.value) == message


def test_a_required_field_without_its_variable_is_refused_by_name(monkeypatch):
    monkeypatch.delenv("TOY_NAME", raising=False)
    with pytest.raises(SettingError, match="^TOY_NAME is not set$"):
        Toy.from_env()


def test_a_command_line_exits_with_the_message_not_a_traceback(toy_env):
    toy_env.setenv("TOY_COUNT", "many")
    with pytest.raises(SystemExit, match="^toy: refusing to start: TOY_COUNT: must be an integer"):
        load_settings("toy", Toy.from_env)


@pytest.mark.parametrize("service", ["identity", "mailer", "catalogue", "newsletter", "portal"])
def test_a_web_app_made_by_gunicorn_exits_with_the_message_not_a_traceback(monkeypatch, service):
    """gunicorn calls create_app() itself (`<service> web` reads the settings first, gunicorn run
    directly does not): a refused value ends it the same way."""
    monkeypatch.setenv(f"{service.upper()}_PORT", "many")
    create_app = importlib.import_module(f"{service}.entrypoints.app").create_app
    refusal = f"^{service}: refusing to start: {service.upper()}_PORT: must be an integer"
    with pytest.raises(SystemExit, match=refusal):
        create_app()


def test_unknown_variables_of_the_prefix_are_warned_about_by_name(toy_env, caplog):
    toy_env.setenv("TOY_COUNTS", "7")
    toy_env.setenv("TOY_LIMIT_HIT", "5")
    toy_env.setenv("TOYBOX", "not ours: no underscore after the prefix")
    with caplog.at_level(logging.WARNING, logger="accounts_common.config"):
        assert Toy.from_env() == Toy(name="toy")
    assert toy_warnings(caplog) == ["unknown TOY_* variable(s), ignored: TOY_COUNTS, TOY_LIMIT_HIT"]


def test_known_variables_raise_no_warning(toy_env, caplog):
    toy_env.setenv("TOY_COUNT", "7")
    toy_env.setenv("TOY_LIMIT_HITS", "5")
    with caplog.at_level(logging.WARNING, logger="accounts_common.config"):
        Toy.from_env()
    assert toy_warnings(caplog) == []


def toy_warnings(caplog) -> list[str]:  # type: ignore[no-untyped-def]
    """The warnings about TOY_* variables: caplog takes every thread's records, and a thread another
    test left running (a service's app in the same worker) may load its own settings meanwhile."""
    return [record.getMessage() for record in caplog.records if "TOY_" in record.getMessage()]


def test_the_variables_a_service_reads_are_listed_with_their_aliases():
    assert Toy.variables() == {
        "TOY_NAME",
        "TOY_COUNT",
        "TOY_RATIO",
        "TOY_LOUD",
        "TOY_URL",
        "TOY_LANES",
        "SHARED_PLACE",
        "TOY_LIMIT_HITS",
        "TOY_LIMIT_SECONDS",
    }
    assert Toy.variable("window") == "TOY_LIMIT"


def service_settings(service: str) -> type:
    return importlib.import_module(f"{service}.settings").Settings


def plain_fields(settings: type) -> list[dataclasses.Field]:  # type: ignore[type-arg]
    """The fields read from one variable as a plain number or text (not keys, groups or checked formats)."""
    return [
        item
        for item in dataclasses.fields(settings)
        if item.type in (int, float, str)
        and not item.metadata.get("read")
        and item.metadata.get("parse") in (None, without_trailing_slash)
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_field_of_every_service_is_settable_from_its_variable(service, monkeypatch):
    settings = service_settings(service)
    expected = {}
    for number, item in enumerate(plain_fields(settings), start=1):
        value = item.type(number + 1)
        expected[item.name] = value
        monkeypatch.setenv(settings.variable(item.name), str(value))
    loaded = settings.from_env()
    assert {name: getattr(loaded, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("catalogue", "CATALOGUE_PORT"),
        ("newsletter", "NEWSLETTER_MAX_BODY_BYTES"),
        ("identity", "IDENTITY_HOUSEKEEPING_INTERVAL_S"),
        ("identity", "IDENTITY_MAX_BODY_BYTES"),
        ("identity", "IDENTITY_AUDIT_LOG_METRICS_PORT"),
        ("mailer", "SMTP_PORT"),
        ("portal", "PORTAL_TRUSTED_PROXY_HOPS"),
    ],
)
def test_the_fields_that_used_to_be_unreadable_and_the_aliases_are_among_them(service, variable):
    assert variable in service_settings(service).variables()


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_warns_about_a_misspelt_variable(service, monkeypatch, caplog):
    misspelt = f"{service.upper()}_TOPIC_PREFIXX"
    monkeypatch.setenv(misspelt, "x")
    with caplog.at_level(logging.WARNING, logger="accounts_common.config"):
        service_settings(service).from_env()
    assert misspelt in caplog.text


def test_variables_other_processes_read_under_a_services_prefix_are_not_unknown(monkeypatch, caplog):
    monkeypatch.setenv("IDENTITY_JWKS_URL", "http://127.0.0.1:1/.well-known/jwks.json")
    monkeypatch.setenv("PORTAL_URL", "http://127.0.0.1:2")
    monkeypatch.setenv("IDENTITY_INTERNAL_PORT", "18001")
    with caplog.at_level(logging.WARNING, logger="accounts_common.config"):
        service_settings("identity").from_env()
        service_settings("portal").from_env()
    assert caplog.records == []


def test_the_mailer_keeps_erased_accounts_at_least_as_long_as_a_dead_letter_waits(monkeypatch):
    """A replayed dead letter (mailer.dlq keeps them 30 days) must still find its account's erasure."""
    monkeypatch.setenv("MAILER_ERASED_ACCOUNTS_DAYS", "29.5")
    with pytest.raises(SettingError, match="MAILER_ERASED_ACCOUNTS_DAYS: must be at least 30.0, got 29.5"):
        service_settings("mailer").from_env()
    monkeypatch.setenv("MAILER_ERASED_ACCOUNTS_DAYS", "30")
    assert service_settings("mailer").from_env().erased_accounts_days == 30.0


def test_identity_writes_each_default_once():
    """The defaults from_env falls back on are the dataclass's own: nothing else holds them."""
    settings = service_settings("identity")
    loaded = settings.from_env()
    built = settings(
        database_url=loaded.database_url,
        kafka_bootstrap_servers=loaded.kafka_bootstrap_servers,
        code_hmac_key=loaded.code_hmac_key,
    )
    assert loaded == built


@pytest.mark.parametrize("service", ("identity", "mailer", "catalogue", "newsletter"))
def test_every_service_with_a_database_bounds_its_requests_by_its_own_variables(service, monkeypatch):
    """The request timeouts' defaults are written once (ServiceSettings), each settable per service;
    0 turns one off (PostgreSQL's meaning), below 0 is refused by name."""
    settings = service_settings(service)
    defaults = settings.from_env()
    assert (defaults.request_lock_timeout_ms, defaults.request_statement_timeout_ms) == (
        REQUEST_LOCK_TIMEOUT_MS,
        REQUEST_STATEMENT_TIMEOUT_MS,
    )
    monkeypatch.setenv(f"{service.upper()}_REQUEST_LOCK_TIMEOUT_MS", "0")
    monkeypatch.setenv(f"{service.upper()}_REQUEST_STATEMENT_TIMEOUT_MS", "8000")
    loaded = settings.from_env()
    assert (loaded.request_lock_timeout_ms, loaded.request_statement_timeout_ms) == (0, 8000)
    monkeypatch.setenv(f"{service.upper()}_REQUEST_LOCK_TIMEOUT_MS", "-1")
    with pytest.raises(SettingError, match=f"{service.upper()}_REQUEST_LOCK_TIMEOUT_MS: must be at least 0"):
        settings.from_env()
