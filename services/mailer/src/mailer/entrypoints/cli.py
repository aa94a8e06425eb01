"""`mailer migrate | worker`: the mailer's processes, each run and scaled on its own."""

import argparse

from accounts_common.consumer import EventConsumer
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, create_pool, migrate
from accounts_common.events.topics import CODES
from accounts_common.process import configure_logging, run_until_signalled
from mailer.bootstrap import bootstrap, smtp_sender
from mailer.settings import Settings

MAILER_MIGRATIONS = MigrationSet("mailer", "mailer")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mailer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("worker", help="consume events and send the emails")
    args = parser.parse_args(argv)
    configure_logging()
    settings = Settings.from_env()
    if args.command == "migrate":
        applied = migrate(settings.database_url, COMMON_MIGRATIONS, MAILER_MIGRATIONS)
        print(f"mailer: {len(applied)} migration(s) applied")
    else:
        run_worker(settings)


def run_worker(settings: Settings) -> None:
    """Consume until SIGTERM; the SMTP connection and the pool are closed on the way out."""
    sender = smtp_sender(settings)
    mailer = bootstrap(settings, sender)
    pool = create_pool(settings.database_url, name="mailer-worker", max_size=2)
    consumer = EventConsumer(
        group=settings.consumer_group,
        topics=(CODES,),
        handlers=mailer.handlers(),
        pool=pool,
        bootstrap_servers=settings.kafka_bootstrap_servers,
    )
    try:
        run_until_signalled(consumer.run)
    finally:
        sender.close()
        pool.close()


if __name__ == "__main__":
    main()
