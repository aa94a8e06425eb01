"""`mailer migrate | worker | web | bounces`: the mailer's processes, each run and scaled on its own."""

import argparse
import dataclasses
import functools
from pathlib import Path

from psycopg_pool import ConnectionPool

from accounts_common.cli import ServiceCli, serve_metrics_of
from accounts_common.consumer import EventConsumer
from accounts_common.db import POOL_WAIT_S, create_pool
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    CODES,
    DELIVERY_RESULTS,
    NEWSLETTER_DELIVERIES,
    SUBSCRIPTION_EVENTS,
)
from accounts_common.kafka import create_consumer
from accounts_common.process import run_together, run_until_signalled
from accounts_common.relay import OutboxRelay
from accounts_common.retry_policy import RetryLimits
from mailer.adapters.smtp import FINAL_REPLY_TIMEOUT_S
from mailer.bootstrap import bootstrap
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer import bounces, metrics
from mailer.settings import Settings

CONSUMED_TOPICS = (CODES, ACCOUNT_EVENTS, NEWSLETTER_DELIVERIES, SUBSCRIPTION_EVENTS)


cli = ServiceCli("mailer", __doc__, Settings)
cli.migrate(MAILER_MIGRATIONS)
main = cli.main


def worker_pool(url: str, smtp_connections: int) -> ConnectionPool:
    """The worker's autocommit connections: the handlers', the batch's claims and marks, and the
    delivery log's, which every SMTP lane may use at once to record a failure.

    Unlike create_pool it does not check a connection at every checkout (a round trip per use):
    a broken connection fails its statement (the claim, before any email is sent), the consumer
    retries the records, and the pool replaces the connection when it comes back broken. A checkout
    waits as long as create_pool's (POOL_WAIT_S), so a SIGTERM during an outage ends it in seconds.
    """
    return ConnectionPool(
        url,
        name="mailer-worker",
        min_size=2,
        max_size=smtp_connections + 3,
        timeout=POOL_WAIT_S,
        open=True,
        kwargs={"autocommit": True},
    )


def check_senders(settings: Settings) -> None:
    """Refuse to start with a sender (MAILER_FROM, MAILER_REPLY_TO, MAILER_PRODUCT_NAME*) that every
    mail would fail on."""
    try:
        settings.brands()
    except ValueError as error:
        raise SystemExit(f"mailer: refusing to start: {error}") from None


# Records per poll at full speed: as many as the lanes drain in about half a second, so the pause
# between two batches (the last emails, the commit, the next poll) is paid less often.
MAX_POLL_RECORDS = 500
# Under MAILER_MAX_SENDS_PER_SECOND a batch holds no more sends than the limit allows in this time.
BATCH_SECONDS_AT_RATE = 60.0
# Between two polls the worker may take a batch at the send limit, plus one lane waiting for the
# reply to the end of DATA (FINAL_REPLY_TIMEOUT_S), plus this to spare. Past max_poll_interval the
# group drops the worker, and another claims its rows still 'sending' and sends them again.
POLL_INTERVAL_MARGIN_S = 240.0


def max_poll_records(max_sends_per_second: float) -> int:
    """Records per poll: MAX_POLL_RECORDS, or fewer under a send limit (one at least)."""
    if max_sends_per_second <= 0:
        return MAX_POLL_RECORDS
    return max(1, min(MAX_POLL_RECORDS, int(max_sends_per_second * BATCH_SECONDS_AT_RATE)))


def poll_interval_ms(max_sends_per_second: float) -> int:
    """How long a batch may take before the group gives the worker's partitions to another."""
    rate = max_sends_per_second
    at_rate = max_poll_records(rate) / rate if rate > 0 else 0.0
    return int((max(BATCH_SECONDS_AT_RATE, at_rate) + FINAL_REPLY_TIMEOUT_S + POLL_INTERVAL_MARGIN_S) * 1000)


def worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance-id",
        default=None,
        help="stable id of this worker in its consumer group (MAILER_WORKER_INSTANCE_ID; "
        "default: host name and metrics port)",
    )


@cli.command(
    "worker",
    "consume events, send the emails, and publish their results (the outbox relay)",
    worker_arguments,
)
def run_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Consume until SIGTERM, with the outbox relay of the delivery results beside (one publishes at a
    time among the workers: an advisory lock); the SMTP connections and the pool are closed on the way out."""
    if args.instance_id:
        settings = dataclasses.replace(settings, worker_instance_id=args.instance_id)
    check_senders(settings)
    serve_metrics_of(settings, "worker")
    metrics.export_every_kind()
    pool = worker_pool(settings.database_url, settings.smtp_connections)
    mailer = bootstrap(settings, pool)
    consumer = EventConsumer(
        group=settings.consumer_group,
        topics=tuple(settings.topic_prefix + topic for topic in CONSUMED_TOPICS),
        handlers=mailer.handlers(),
        pool=pool,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        max_backoff=settings.retry_max_backoff_s,
        retry_limits=RetryLimits(
            transient_seconds=settings.retry_time_limit_s, unexpected_attempts=settings.handler_max_attempts
        ),
        group_instance_id=settings.group_instance_id(),
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        max_poll_records=max_poll_records(settings.max_sends_per_second),
        consumer_factory=functools.partial(
            create_consumer,
            max_poll_interval_ms=poll_interval_ms(settings.max_sends_per_second),
        ),
        housekeeping=settings.housekeeping(),
        housekeeping_interval_s=settings.housekeeping_interval_s,
        on_give_up=mailer.gave_up,
        finish_batch=mailer.dispatcher.finish_batch,
        # The delivery log is the mailer's inbox: each email is claimed by its event id before it
        # is sent, and erasing an account is idempotent. Skipping the generic inbox row saves a
        # transaction (three round trips) per email.
        inbox=False,
    )
    # A thread of the worker, not a process of its own: the results are few (newsletter mails and
    # failures), and every worker already has Kafka; the lock keeps their order per account.
    relay = OutboxRelay(
        settings.database_url,
        settings.kafka_bootstrap_servers,
        client_id="mailer-relay",
        topic_prefix=settings.topic_prefix,
    )
    try:
        run_until_signalled(lambda stop: run_together(stop, consumer.run, relay.run))
    finally:
        mailer.dispatcher.close()
        pool.close()


def seconds_above_zero(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds above 0")
    return seconds


def bounces_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--maildir",
        required=True,
        type=Path,
        help="the Maildir the bounce address delivers to (created by --watch when missing)",
    )
    parser.add_argument(
        "--watch",
        type=seconds_above_zero,
        default=0.0,
        metavar="SECONDS",
        help="read it again every SECONDS until stopped (default: read it once)",
    )


@cli.command(
    "bounces",
    "read the bounce mailbox (a Maildir): hard bounces suppress their address for newsletters "
    "and are reported as EmailFailed",
    bounces_arguments,
)
def read_bounces(settings: Settings, args: argparse.Namespace) -> None:
    """Read the bounce Maildir once, or every --watch seconds until SIGTERM; either way its handled
    messages expire after MAILER_DELIVERY_LOG_DAYS (once, or every MAILER_HOUSEKEEPING_INTERVAL_S)."""
    folder, watch = args.maildir, args.watch
    if watch <= 0 and not folder.is_dir():
        # --watch creates it (the mail server may deliver later); a single read has nothing to read.
        raise SystemExit(f"mailer: no folder {folder}: nothing read (is --maildir mistyped?)")
    topic = DELIVERY_RESULTS  # through the outbox: the relay adds the topic prefix
    housekeeping = bounces.MaildirHousekeeping(
        settings.housekeeping_interval_s, settings.delivery_log_days * 86400
    )
    with create_pool(settings.database_url, name="mailer-bounces", max_size=1) as pool:
        if watch <= 0:
            read = bounces.read_maildir(pool, topic, folder)
            print(f"mailer: {read} bounce message(s) read from {folder}")
            if housekeeping.interval_s:
                expired = bounces.expire_handled(folder, housekeeping.max_age_s)
                print(f"mailer: {expired} handled bounce message(s) expired")
            return
        run_until_signalled(
            lambda stop: bounces.watch_maildir(pool, topic, folder, watch, stop, housekeeping)
        )


cli.web("serve health, metrics and the operators' API with gunicorn")

if __name__ == "__main__":
    main()
