"""`newsletter migrate | web | worker | relay`: the newsletter's processes, each run and scaled on its own."""

import argparse

from accounts_common.account_projection import REVOCATION_EXPIRIES
from accounts_common.config import load_settings
from accounts_common.consumer import EventConsumer
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, create_pool, migrate
from accounts_common.events.topics import ACCOUNT_EVENTS, DELIVERY_RESULTS, NEWSLETTER_DELIVERIES
from accounts_common.outbox import OutboxRelay
from accounts_common.process import (
    add_web_command,
    configure_logging,
    exec_gunicorn,
    run_together,
    run_until_signalled,
    serve_metrics,
)
from newsletter.bootstrap import bootstrap
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.service_layer.results import delivery_result_handlers
from newsletter.settings import Settings

NEWSLETTER_MIGRATIONS = MigrationSet("newsletter", "newsletter")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="newsletter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    add_web_command(
        commands, help="serve the HTTP API with gunicorn", port_variable="NEWSLETTER_PORT", default_port=8003
    )
    commands.add_parser(
        "worker",
        help="consume account events and delivery results, start scheduled issues, fan issues out to Kafka",
    )
    commands.add_parser("relay", help="publish the outbox (subscription events) to Kafka")
    args = parser.parse_args(argv)
    configure_logging()
    settings = load_settings("newsletter", Settings.from_env)
    if args.command == "migrate":
        applied = migrate(settings.database_url, COMMON_MIGRATIONS, NEWSLETTER_MIGRATIONS)
        print(f"newsletter: {len(applied)} migration(s) applied")
    elif args.command == "web":
        exec_gunicorn(
            "newsletter.entrypoints.app:create_app()", host=args.host, port=args.port, workers=args.workers
        )
    elif args.command == "worker":
        run_worker(settings)
    else:
        serve_metrics(settings.relay_metrics_port, settings.relay_metrics_host)
        relay = OutboxRelay(
            settings.database_url, settings.kafka_bootstrap_servers, client_id="newsletter-relay"
        )
        run_until_signalled(relay.run)


def run_worker(settings: Settings) -> None:
    """The events consumer and the fan-out (with the scheduler), two threads of one process, until SIGTERM."""
    serve_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    newsletter = bootstrap(
        settings, pool=create_pool(settings.database_url, name="newsletter-worker", max_size=2)
    )
    consumer = EventConsumer(
        group=settings.consumer_group,
        topics=(newsletter.topic(ACCOUNT_EVENTS), newsletter.topic(DELIVERY_RESULTS)),
        handlers={**account_event_handlers(newsletter), **delivery_result_handlers(newsletter)},
        pool=newsletter.pool,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        housekeeping=REVOCATION_EXPIRIES,
    )
    fanout = FanOutWorker(
        newsletter,
        settings.kafka_bootstrap_servers,
        portal_url=settings.portal_url,
        unsubscribe_key=settings.unsubscribe_key,
        topic=newsletter.topic(NEWSLETTER_DELIVERIES),
        batch_size=settings.fanout_batch_size,
    )
    try:
        run_until_signalled(lambda stop: run_together(stop, consumer.run, fanout.run))
    finally:
        newsletter.pool.close()


if __name__ == "__main__":
    main()
