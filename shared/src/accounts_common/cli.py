"""Every service's command line, `<service> <command>`: one builder with the standard commands
(migrate, web, relay) and the consumer loop the workers share; a service adds its own commands to it."""

import argparse
import dataclasses
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import psycopg

from accounts_common.config import FromEnvironment, env_str
from accounts_common.consumer import EventConsumer
from accounts_common.db import COMMON_MIGRATIONS, MigrationRefused, MigrationSet, create_pool, migrate
from accounts_common.inbox import Handler
from accounts_common.process import (
    MetricsUnavailable,
    configure_logging,
    exec_gunicorn,
    run_until_signalled,
    serve_metrics,
)
from accounts_common.relay import OutboxRelay

Run = Callable[[Any, argparse.Namespace], None]


def no_arguments(_parser: argparse.ArgumentParser) -> None:
    """A command with no arguments of its own."""


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count, a limit)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return number


WORKERS_VARIABLE = "WEB_CONCURRENCY"


def workers_from_environment(command: str) -> int:
    """WEB_CONCURRENCY (2 when unset), read only by `web` without --workers; anything below 1 is a
    usage error naming it (exit 2), never handed to gunicorn."""
    raw = env_str(WORKERS_VARIABLE, "2")
    try:
        return at_least_one(raw)
    except argparse.ArgumentTypeError:
        print(f"{command}: {WORKERS_VARIABLE}={raw} is not a whole number of at least 1", file=sys.stderr)
        raise SystemExit(2) from None


def no_options(_settings: Any) -> dict[str, Any]:
    """An outbox relay with OutboxRelay's defaults."""
    return {}


@dataclass(frozen=True)
class Command:
    """One `<service> <command>`: its help, its own arguments, and what it runs with the service's
    settings and the parsed arguments."""

    help: str
    run: Run
    arguments: Callable[[argparse.ArgumentParser], None] = no_arguments


class ServiceCli:
    """A service's command line: its standard commands and its own, each run with its settings."""

    def __init__(self, service: str, description: str | None, settings: type[FromEnvironment]) -> None:
        self.service, self.description, self.settings = service, description, settings
        self.commands: dict[str, Command] = {}

    def add(
        self,
        name: str,
        help: str,
        run: Run,
        arguments: Callable[[argparse.ArgumentParser], None] = no_arguments,
    ) -> None:
        """Add `<service> <name>`, listed in the order added."""
        self.commands[name] = Command(help, run, arguments)

    def command(
        self, name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = no_arguments
    ) -> Callable[[Run], Run]:
        """Decorate a function of (settings, parsed arguments) as `<service> <name>`."""

        def register(run: Run) -> Run:
            self.add(name, help, run, arguments)
            return run

        return register

    def migrate(self, migrations: MigrationSet) -> None:
        """`<service> migrate`: the shared migrations, then the service's own."""

        def run(settings: Any, _args: argparse.Namespace) -> None:
            try:
                applied = migrate(settings.database_url, COMMON_MIGRATIONS, migrations)
            except MigrationRefused as error:
                user = f"the user of {self.settings.variable('database_url')}"
                owner = f"the role that owns the database and its tables ({user})"
                raise SystemExit(
                    f"{self.service}: migrate refused at {error}: run `{self.service} migrate` as {owner}"
                ) from None
            print(f"{self.service}: {len(applied)} migration(s) applied")

        self.add("migrate", "apply pending database migrations", run)

    def web(self, help: str, *, threads: int = 0) -> None:
        """`<service> web`: gunicorn serving `<service>.entrypoints.app:create_app()` (sync workers, or
        `threads` threads each) with --host (WEB_HOST), --port (the settings' port) and --workers
        (WEB_CONCURRENCY): images run it, so the environment sizes every web process the same way."""
        port_variable = self.settings.variable("port")
        fields = dataclasses.fields(cast(Any, self.settings))
        port = next(item.default for item in fields if item.name == "port")

        def arguments(parser: argparse.ArgumentParser) -> None:
            parser.add_argument(
                "--host",
                default=env_str("WEB_HOST", "127.0.0.1"),
                help="address to listen on (WEB_HOST; default: %(default)s)",
            )
            parser.add_argument(
                "--port", type=int, default=None, help=f"port to listen on ({port_variable}; default: {port})"
            )
            parser.add_argument(
                "--workers",
                type=at_least_one,
                default=None,
                help=f"gunicorn workers (WEB_CONCURRENCY; default: {env_str(WORKERS_VARIABLE, '2')})",
            )

        def run(settings: Any, args: argparse.Namespace) -> None:
            port = settings.port if args.port is None else args.port
            workers = args.workers or workers_from_environment(f"{self.service} web")
            app = f"{self.service}.entrypoints.app:create_app()"
            exec_gunicorn(app, host=args.host, port=port, workers=workers, threads=threads)

        self.add("web", help, run, arguments)

    def relay(self, help: str, *, options: Callable[[Any], dict[str, Any]] = no_options) -> None:
        """`<service> relay`: publish the outbox to Kafka until SIGTERM as `<service>-relay`, to the
        settings' topic_prefix + each row's topic, with OutboxRelay's `options(settings)`; metrics on
        the settings' relay_metrics_port and _host."""

        def run(settings: Any, _args: argparse.Namespace) -> None:
            serve_metrics_of(settings, "relay")
            relay = OutboxRelay(
                settings.database_url,
                settings.kafka_bootstrap_servers,
                client_id=f"{self.service}-relay",
                topic_prefix=settings.topic_prefix,
                **options(settings),
            )
            run_until_signalled(relay.run)

        self.add("relay", help, run)

    def main(self, argv: list[str] | None = None) -> None:
        """Parse the command line, configure logging, load the settings (an insecure key or a bad value
        exits with a message naming the variable) and run the command; a database it cannot reach, or
        not yet migrated, exits with one line saying so."""
        parser = argparse.ArgumentParser(prog=self.service, description=self.description)
        subparsers = parser.add_subparsers(dest="command", required=True)
        for name, command in self.commands.items():
            command.arguments(subparsers.add_parser(name, help=command.help))
        args = parser.parse_args(argv)
        configure_logging()
        settings = self.settings.load()
        try:
            self.commands[args.command].run(settings, args)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as error:
            hint = f"(has `{self.service} migrate` run?)"
            raise SystemExit(f"{self.service}: {first_line(error)} {hint}") from None
        except psycopg.OperationalError as error:  # a PoolTimeout too
            raise SystemExit(f"{self.service}: cannot reach the database: {first_line(error)}") from None
        except MetricsUnavailable as error:
            raise SystemExit(f"{self.service}: {error}") from None
        except KeyboardInterrupt:  # Ctrl-C in a one-off chore (the long-running ones stop on SIGINT)
            raise SystemExit(130) from None


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def serve_metrics_of(settings: Any, process: str) -> None:
    """Serve metrics on the settings' `<process>_metrics_port` and `_host`; when it cannot listen
    there, the message names their variables."""
    port, host = f"{process}_metrics_port", f"{process}_metrics_host"
    variable = type(settings).variable
    serve_metrics(
        getattr(settings, port),
        getattr(settings, host),
        port_variable=variable(port),
        host_variable=variable(host),
    )


def consume(
    settings: Any,
    metrics: str,
    pool_name: str,
    group: str,
    topics: Iterable[str],
    handlers: dict[str, Handler],
    **options: Any,
) -> None:
    """Serve metrics on the settings' `<metrics>_metrics_port` and `_host`, and consume `topics`
    (behind the settings' topic_prefix) in consumer group `group` until SIGTERM, on a small pool of
    its own (create_pool's: no request timeouts); `options` go to EventConsumer."""
    serve_metrics_of(settings, metrics)
    with create_pool(settings.database_url, name=pool_name, max_size=2) as pool:
        consumer = EventConsumer(
            group=group,
            topics=tuple(settings.topic_prefix + topic for topic in topics),
            handlers=handlers,
            pool=pool,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            **options,
        )
        run_until_signalled(consumer.run)
