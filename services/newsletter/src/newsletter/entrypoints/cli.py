"""`newsletter migrate | web | worker | relay`: the newsletter's processes, each run and scaled on its own."""

import argparse

from accounts_common.account_projection import REVOCATION_EXPIRIES
from accounts_common.cli import ServiceCli, serve_metrics_of
from accounts_common.consumer import EventConsumer
from accounts_common.db import create_pool
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    DELIVERY_RESULTS,
    NEWSLETTER_DELIVERIES,
    VIDEO_EVENTS,
)
from accounts_common.process import run_together, run_until_signalled
from newsletter.adapters.group_progress import GroupProgress
from newsletter.bootstrap import bootstrap
from newsletter.migrations import NEWSLETTER_MIGRATIONS
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.service_layer.new_videos import video_event_handlers
from newsletter.service_layer.results import IDEMPOTENT_RESULTS, DeliveryResults
from newsletter.settings import Settings

cli = ServiceCli("newsletter", __doc__, Settings)
cli.migrate(NEWSLETTER_MIGRATIONS)
cli.web("serve the HTTP API with gunicorn")
main = cli.main


@cli.command(
    "worker",
    "consume account events, delivery results and video events (the New videos draft), "
    "start scheduled issues, fan issues out to Kafka",
)
def run_worker(settings: Settings, _args: argparse.Namespace) -> None:
    """The events consumer and the fan-out (with the scheduler), two threads of one process, until SIGTERM."""
    serve_metrics_of(settings, "worker")
    newsletter = bootstrap(
        settings, pool=create_pool(settings.database_url, name="newsletter-worker", max_size=2)
    )
    results = DeliveryResults(newsletter)
    consumer = EventConsumer(
        group=settings.consumer_group,
        topics=tuple(newsletter.topic(name) for name in (ACCOUNT_EVENTS, DELIVERY_RESULTS, VIDEO_EVENTS)),
        handlers={
            **account_event_handlers(newsletter),
            **results.handlers(),
            **video_event_handlers(newsletter),
        },
        without_inbox=IDEMPOTENT_RESULTS,
        finish_batch=results.finish_batch,
        pool=newsletter.pool,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        housekeeping=REVOCATION_EXPIRIES,
    )
    fanout = FanOutWorker(
        newsletter,
        settings.kafka_bootstrap_servers,
        portal_url=settings.portal_url,
        unsubscribe_key=settings.unsubscribe_key,
        account_events=GroupProgress(
            settings.kafka_bootstrap_servers,
            group=settings.consumer_group,
            topic=newsletter.topic(ACCOUNT_EVENTS),
        ),
        topic=newsletter.topic(NEWSLETTER_DELIVERIES),
        batch_size=settings.fanout_batch_size,
    )
    try:
        run_until_signalled(lambda stop: run_together(stop, consumer.run, fanout.run))
    finally:
        newsletter.pool.close()


cli.relay("publish the outbox (subscription events) to Kafka")

if __name__ == "__main__":
    main()
