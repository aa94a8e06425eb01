"""`catalogue migrate | web | worker | transcoder | relay | seed | generate | storage-init`: the
catalogue's processes and chores."""

import argparse

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common.account_projection import REVOCATION_EXPIRIES
from accounts_common.config import load_settings
from accounts_common.consumer import EventConsumer
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, create_pool, migrate
from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_common.outbox import OutboxRelay
from accounts_common.process import (
    add_web_command,
    configure_logging,
    exec_gunicorn,
    run_until_signalled,
    serve_metrics,
)
from catalogue import samples, synthetic
from catalogue.adapters.media import FfmpegMissing
from catalogue.adapters.storage import S3Storage, open_storage
from catalogue.bootstrap import bootstrap
from catalogue.service_layer.projection import HANDLERS
from catalogue.service_layer.transcoder import Transcoder
from catalogue.settings import Settings

CATALOGUE_MIGRATIONS = MigrationSet("catalogue", "catalogue")
# Threads, not sync workers: a long download must not hold the only thread the arbiter watches.
THREADS_PER_WORKER = 8


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="catalogue", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    add_web_command(
        commands, help="serve the HTTP API with gunicorn", port_variable="CATALOGUE_PORT", default_port=8002
    )
    commands.add_parser("worker", help="project identity's account events (verified, reset, deleted)")
    commands.add_parser("transcoder", help="transcode uploaded masters into renditions (one job at a time)")
    commands.add_parser("relay", help="publish the outbox (video events, audit records) to Kafka")
    commands.add_parser("seed", help="add the sample videos (rendered with ffmpeg) when missing")
    commands.add_parser("storage-init", help="create the bucket of CATALOGUE_STORAGE=s3://… when missing")
    generate = commands.add_parser("generate", help="add N synthetic videos (benchmarks)")
    generate.add_argument("count", type=int)
    generate.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    args = parser.parse_args(argv)
    configure_logging()
    settings = load_settings("catalogue", Settings.from_env)
    if args.command == "migrate":
        applied = migrate(settings.database_url, COMMON_MIGRATIONS, CATALOGUE_MIGRATIONS)
        print(f"catalogue: {len(applied)} migration(s) applied")
    elif args.command == "web":
        exec_gunicorn(
            "catalogue.entrypoints.app:create_app()",
            host=args.host,
            port=args.port,
            workers=args.workers,
            threads=THREADS_PER_WORKER,
        )
    elif args.command == "seed":
        seed(settings)
    elif args.command == "storage-init":
        storage_init(settings)
    elif args.command == "transcoder":
        run_transcoder(settings)
    elif args.command == "relay":
        serve_metrics(settings.relay_metrics_port, settings.relay_metrics_host)
        relay = OutboxRelay(
            settings.database_url, settings.kafka_bootstrap_servers, client_id="catalogue-relay"
        )
        run_until_signalled(relay.run)
    elif args.command == "generate":
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            added = synthetic.generate(conn, args.count, args.seed)
        print(f"catalogue: {added} synthetic video(s) added")
    else:
        run_worker(settings)


def seed(settings: Settings) -> None:
    catalogue = bootstrap(settings)
    try:
        added = samples.seed(catalogue, catalogue.storage)
    except FfmpegMissing as missing:
        raise SystemExit(f"catalogue seed: {missing}") from None
    finally:
        catalogue.pool.close()
    print(f"catalogue: {added} sample video(s) added")


def storage_init(settings: Settings) -> None:
    storage = open_storage(settings.storage, settings.storage_root)
    if not isinstance(storage, S3Storage):
        print(f"catalogue: files stay in the folder {storage.root}")
        return
    created = storage.ensure_bucket()
    print(f"catalogue: bucket {storage.bucket} {'created' if created else 'already there'}")


def run_transcoder(settings: Settings) -> None:
    """Transcode until SIGTERM; a job in hand is given back at once for another worker to take."""
    serve_metrics(settings.transcoder_metrics_port, settings.transcoder_metrics_host)
    catalogue = bootstrap(
        settings, pool=create_pool(settings.database_url, name="catalogue-transcoder", max_size=2)
    )
    try:
        run_until_signalled(Transcoder(catalogue).run)
    finally:
        catalogue.pool.close()


def run_worker(settings: Settings) -> None:
    """Consume identity's account events until SIGTERM (consumer group `catalogue`)."""
    serve_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    with ConnectionPool(
        settings.database_url, name="catalogue-worker", min_size=1, max_size=2, kwargs={"autocommit": True}
    ) as pool:
        consumer = EventConsumer(
            group=settings.consumer_group,
            topics=(settings.topic_prefix + ACCOUNT_EVENTS,),
            handlers=HANDLERS,
            pool=pool,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            housekeeping=REVOCATION_EXPIRIES,
        )
        run_until_signalled(consumer.run)


if __name__ == "__main__":
    main()
