"""Every service's command line comes from accounts_common.cli: the same commands as before, `web` on
the port its settings read, and a bad or insecure setting refused with its variable's name."""

import functools
import importlib
import socket
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

import identity.bootstrap
from accounts_common.codecrypt import DEV_KEY
from accounts_common.db import create_pool
from identity.settings import Settings as IdentitySettings
from mailer.settings import Settings as MailerSettings

COMMANDS = {
    "identity": {
        "migrate",
        "web",
        "relay",
        "audit-log",
        "housekeeping",
        "rotate-key",
        "staff",
        "erase-again",
    },
    "mailer": {"migrate", "worker", "bounces", "web"},
    "catalogue": {"migrate", "web", "worker", "transcoder", "relay", "seed", "storage-init", "generate"},
    "newsletter": {"migrate", "web", "worker", "relay"},
    "portal": {"web"},
}
PORTS = {"identity": 8001, "catalogue": 8002, "newsletter": 8003, "mailer": 8004, "portal": 8000}


def main_of(service: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"{service}.entrypoints.cli").main


@pytest.fixture
def started(monkeypatch) -> dict:  # type: ignore[type-arg]
    """What `web` hands gunicorn, instead of starting it."""
    seen: dict = {}  # type: ignore[type-arg]
    monkeypatch.setattr(
        "accounts_common.cli.exec_gunicorn", lambda app, **kwargs: seen.update(kwargs, app=app)
    )
    return seen


@pytest.mark.parametrize("service", COMMANDS)
def test_each_service_keeps_its_commands(service, capsys):
    with pytest.raises(SystemExit) as done:
        main_of(service)(["--help"])
    assert done.value.code == 0
    listed = capsys.readouterr().out
    assert all(f"    {command} " in listed or f"    {command}\n" in listed for command in COMMANDS[service])


@pytest.mark.parametrize("service", COMMANDS)
def test_a_missing_command_is_a_usage_error(service, capsys):
    with pytest.raises(SystemExit) as done:
        main_of(service)([])
    assert done.value.code == 2
    assert "required: command" in capsys.readouterr().err


@pytest.mark.parametrize("service", PORTS)
def test_web_serves_on_the_port_its_settings_read(service, started, monkeypatch, capsys):
    variable = f"{service.upper()}_PORT"
    monkeypatch.delenv(variable, raising=False)
    main_of(service)(["web"])
    assert (started["port"], started["app"]) == (PORTS[service], f"{service}.entrypoints.app:create_app()")
    monkeypatch.setenv(variable, "18123")
    main_of(service)(["web"])
    assert started["port"] == 18123
    main_of(service)(["web", "--port", "18124", "--host", "0.0.0.0", "--workers", "3"])
    assert (started["port"], started["host"], started["workers"]) == (18124, "0.0.0.0", 3)
    with pytest.raises(SystemExit):
        main_of(service)(["web", "--help"])
    assert f"port to listen on ({variable}; default: {PORTS[service]})" in capsys.readouterr().out


def test_only_the_catalogue_serves_with_threads(started):
    threads = {}
    for service in PORTS:
        main_of(service)(["web"])
        threads[service] = started["threads"]
    assert threads == {"identity": 0, "catalogue": 8, "newsletter": 0, "mailer": 0, "portal": 0}


def test_a_bad_value_stops_the_command_with_the_variable_named(started, monkeypatch):
    monkeypatch.setenv("IDENTITY_PORT", "eighty")
    with pytest.raises(SystemExit, match="^identity: refusing to start: IDENTITY_PORT: must be an integer"):
        main_of("identity")(["web"])
    assert started == {}


def test_every_mailer_command_refuses_a_development_code_key_outside_development(started, monkeypatch):
    monkeypatch.setenv("ACCOUNTS_ENV", "production")
    monkeypatch.setenv("CODE_ENCRYPTION_KEYS", DEV_KEY)
    with pytest.raises(SystemExit, match="^mailer: refusing to start: CODE_ENCRYPTION_KEYS"):
        main_of("mailer")(["web"])
    assert started == {}


def test_the_mailer_reads_its_code_keys_through_its_settings(monkeypatch):
    keys = (Fernet.generate_key().decode(), Fernet.generate_key().decode())
    monkeypatch.setenv("CODE_ENCRYPTION_KEYS", ",".join(keys))
    assert MailerSettings.from_env().code_encryption_keys == keys


UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2"


@pytest.mark.parametrize(
    ("service", "argv"),
    [("identity", ["migrate"]), ("identity", ["staff", "list"]), ("catalogue", ["generate", "1"])],
)
def test_an_unreachable_database_is_one_line_not_a_traceback(service, argv, monkeypatch):
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", UNREACHABLE)
    # identity's pool gives up (PoolTimeout) after 0.5 s instead of its 5: the one line is what is checked.
    monkeypatch.setattr(identity.bootstrap, "create_pool", functools.partial(create_pool, timeout_s=0.5))
    with pytest.raises(SystemExit) as done:
        main_of(service)(argv)
    message = str(done.value.code)
    assert message.startswith(f"{service}: cannot reach the database: ")
    assert "\n" not in message


@pytest.mark.parametrize("count", ["-5", "0"])
def test_generate_refuses_a_count_below_one_before_the_database(count, monkeypatch, capsys):
    monkeypatch.setenv("CATALOGUE_DATABASE_URL", UNREACHABLE)
    with pytest.raises(SystemExit) as done:
        main_of("catalogue")(["generate", "--", count])
    assert done.value.code == 2
    assert f"argument count: {count} is not a whole number of at least 1" in capsys.readouterr().err


def test_bounces_once_refuses_a_maildir_that_is_not_there_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILER_DATABASE_URL", UNREACHABLE)
    missing = tmp_path / "Maildri"
    with pytest.raises(SystemExit) as done:
        main_of("mailer")(["bounces", "--maildir", str(missing)])
    assert str(done.value.code) == f"mailer: no folder {missing}: nothing read (is --maildir mistyped?)"
    assert not missing.exists()


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_web_refuses_fewer_than_one_worker(workers, started, capsys):
    with pytest.raises(SystemExit) as done:
        main_of("identity")(["web", "--workers", workers])
    assert done.value.code == 2
    assert f"argument --workers: {workers} is not a whole number of at least 1" in capsys.readouterr().err
    assert started == {}


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_web_refuses_a_web_concurrency_below_one_naming_the_variable(value, started, monkeypatch, capsys):
    monkeypatch.setenv("WEB_CONCURRENCY", value)
    with pytest.raises(SystemExit) as done:
        main_of("identity")(["web"])
    assert done.value.code == 2
    said = capsys.readouterr().err
    assert said == f"identity web: WEB_CONCURRENCY={value} is not a whole number of at least 1\n"
    assert started == {}


def test_a_bad_web_concurrency_leaves_the_other_commands_and_the_workers_flag_alone(started, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "two")
    main_of("identity")(["web", "--workers", "3"])
    assert started["workers"] == 3
    monkeypatch.setenv("IDENTITY_DATABASE_URL", UNREACHABLE)
    with pytest.raises(SystemExit) as done:
        main_of("identity")(["migrate"])
    assert str(done.value.code).startswith("identity: cannot reach the database: ")


def test_rotate_key_with_keys_in_the_environment_says_whose_message_it_is(monkeypatch):
    monkeypatch.setenv("IDENTITY_DATABASE_URL", UNREACHABLE)  # refused before the database
    monkeypatch.setenv("IDENTITY_SIGNING_KEYS", "-----BEGIN PRIVATE KEY-----")
    with pytest.raises(SystemExit) as done:
        main_of("identity")(["rotate-key"])
    assert str(done.value.code) == (
        "identity: IDENTITY_SIGNING_KEYS is set: rotate by changing it (new key first, old one second)"
    )


def test_ctrl_c_in_a_one_off_command_exits_130_without_a_traceback():
    from accounts_common.cli import ServiceCli

    cli = ServiceCli("identity", None, IdentitySettings)

    @cli.command("slow", "a chore the operator interrupts")
    def slow(_settings, _args):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as done:
        cli.main(["slow"])
    assert done.value.code == 130


def test_storage_init_with_no_s3_to_reach_is_one_line(monkeypatch):
    monkeypatch.setenv("CATALOGUE_STORAGE", "s3://cli-review-bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "cli-review")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cli-review-secret")
    with pytest.raises(SystemExit) as done:
        main_of("catalogue")(["storage-init"])
    message = str(done.value.code)
    assert message.startswith("catalogue: cannot create or check the bucket cli-review-bucket: ")
    assert "\n" not in message


@pytest.mark.parametrize("seconds", ["-5", "soon"])
def test_bounces_refuses_a_watch_interval_that_is_not_a_number_of_seconds(seconds, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main_of("mailer")(["bounces", "--maildir", str(tmp_path), "--watch", seconds])
    assert done.value.code == 2
    assert f"argument --watch: {seconds} is not a number of seconds above 0" in capsys.readouterr().err


def test_web_help_shows_the_defaults(monkeypatch, capsys):
    monkeypatch.delenv("WEB_HOST", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("PORTAL_PORT", raising=False)
    with pytest.raises(SystemExit):
        main_of("portal")(["web", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "(WEB_HOST; default: 127.0.0.1)" in shown
    assert "(PORTAL_PORT; default: 8000)" in shown
    assert "(WEB_CONCURRENCY; default: 2)" in shown


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    "variable",
    [
        "IDENTITY_RELAY_METRICS_PORT",
        "IDENTITY_AUDIT_LOG_METRICS_PORT",
        "CATALOGUE_WORKER_METRICS_PORT",
        "CATALOGUE_TRANSCODER_METRICS_PORT",
        "CATALOGUE_RELAY_METRICS_PORT",
        "NEWSLETTER_WORKER_METRICS_PORT",
        "NEWSLETTER_RELAY_METRICS_PORT",
        "MAILER_WORKER_METRICS_PORT",
    ],
)
def test_a_metrics_port_in_use_names_the_variable_that_sets_it(variable, taken_port, monkeypatch):
    """Each is <SERVICE>_<COMMAND>_METRICS_PORT: the command to start is read back from its name."""
    service, _, command = variable.removesuffix("_METRICS_PORT").lower().partition("_")
    command = command.replace("_", "-")
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv(variable, str(taken_port))
    with pytest.raises(SystemExit) as done:
        main_of(service)([command])
    message = str(done.value.code)
    assert message == (
        f"{service}: cannot serve metrics on 127.0.0.1:{taken_port} (address already in use): "
        f"set {variable} to a free port, or 0 to serve none"
    )


def test_a_metrics_host_not_of_this_machine_names_the_host_variable(monkeypatch):
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.setenv("IDENTITY_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("IDENTITY_RELAY_METRICS_HOST", "192.0.2.1")  # TEST-NET-1: never this host's
    with pytest.raises(SystemExit) as done:
        main_of("identity")(["relay"])
    message = str(done.value.code)
    assert message.startswith("identity: cannot serve metrics on 192.0.2.1:9101 (")
    assert message.endswith(
        ": check IDENTITY_RELAY_METRICS_HOST, or set IDENTITY_RELAY_METRICS_PORT to 0 to serve none"
    )
