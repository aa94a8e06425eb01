"""`identity migrate | web | relay`: the service's processes, each run and scaled on its own."""

import argparse

from accounts_common.config import env_int
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, migrate
from accounts_common.outbox import OutboxRelay
from accounts_common.process import configure_logging, exec_gunicorn, run_until_signalled
from identity.settings import Settings

IDENTITY_MIGRATIONS = MigrationSet("identity", "identity")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="identity", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    web = commands.add_parser("web", help="serve the HTTP API with gunicorn")
    web.add_argument("--port", type=int, default=env_int("IDENTITY_PORT", 8001))
    web.add_argument("--workers", type=int, default=env_int("WEB_CONCURRENCY", 2))
    commands.add_parser("relay", help="publish the outbox to Kafka")
    args = parser.parse_args(argv)
    configure_logging()
    settings = Settings.from_env()
    if args.command == "migrate":
        applied = migrate(settings.database_url, COMMON_MIGRATIONS, IDENTITY_MIGRATIONS)
        print(f"identity: {len(applied)} migration(s) applied")
    elif args.command == "web":
        exec_gunicorn("identity.entrypoints.app:create_app()", port=args.port, workers=args.workers)
    else:
        relay = OutboxRelay(
            settings.database_url, settings.kafka_bootstrap_servers, client_id="identity-relay"
        )
        run_until_signalled(relay.run)


if __name__ == "__main__":
    main()
