"""`newsletter migrate | web | worker | relay`: the newsletter's processes, each run and scaled on its own."""

import argparse
import threading
import time
from collections.abc import Callable

from accounts_common.account_projection import REVOCATION_EXPIRIES
from accounts_common.config import load_settings
from accounts_common.consumer import EventConsumer
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, create_pool, migrate
from accounts_common.events.topics import ACCOUNT_EVENTS, NEWSLETTER_DELIVERIES
from accounts_common.outbox import OutboxRelay
from accounts_common.process import (
    add_web_command,
    configure_logging,
    exec_gunicorn,
    run_until_signalled,
    serve_metrics,
)
from newsletter.bootstrap import bootstrap
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.settings import Settings

NEWSLETTER_MIGRATIONS = MigrationSet("newsletter", "newsletter")
SHUTDOWN_GRACE_S = 5.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="newsletter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    add_web_command(
        commands, help="serve the HTTP API with gunicorn", port_variable="NEWSLETTER_PORT", default_port=8003
    )
    commands.add_parser("worker", help="consume account events and fan issues out to Kafka")
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
    """The account-events consumer and the fan-out, two threads of one process, until SIGTERM."""
    serve_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    newsletter = bootstrap(
        settings, pool=create_pool(settings.database_url, name="newsletter-worker", max_size=2)
    )
    consumer = EventConsumer(
        group=settings.consumer_group,
        topics=(newsletter.topic(ACCOUNT_EVENTS),),
        handlers=account_event_handlers(newsletter),
        pool=newsletter.pool,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        housekeeping=REVOCATION_EXPIRIES,
    )
    fanout = FanOutWorker(
        settings.database_url,
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


def run_together(stop: threading.Event, *loops: Callable[[threading.Event], None]) -> None:
    """Run each loop in its own thread; when one ends (or fails), stop them all.

    A loop that does not finish within the grace period is left behind as the process exits: a
    consumer still joining its group (after a crash of the previous worker) would otherwise hold
    the exit for the whole session timeout. Nothing is lost: offsets are committed only after work.
    """

    def guarded(loop: Callable[[threading.Event], None]) -> None:
        try:
            loop(stop)
        finally:
            stop.set()

    threads = [
        threading.Thread(target=guarded, args=(loop,), name=loop.__qualname__, daemon=True) for loop in loops
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


if __name__ == "__main__":
    main()
