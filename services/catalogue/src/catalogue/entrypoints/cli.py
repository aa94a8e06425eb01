"""`catalogue migrate | web | worker | transcoder | relay | seed | generate | storage-init`: the
catalogue's processes and chores."""

import argparse

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from accounts_common.account_projection import REVOCATION_EXPIRIES
from accounts_common.cli import ServiceCli, at_least_one, consume, serve_metrics_of
from accounts_common.db import create_pool
from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_common.process import run_until_signalled
from catalogue import samples, synthetic
from catalogue.adapters.media import FfmpegMissing
from catalogue.adapters.storage import S3Storage, StorageUnavailable, open_storage
from catalogue.bootstrap import bootstrap
from catalogue.migrations import CATALOGUE_MIGRATIONS
from catalogue.service_layer.projection import HANDLERS
from catalogue.service_layer.transcoder import Transcoder
from catalogue.settings import Settings

# Threads, not sync workers: a long download must not hold the only thread the arbiter watches.
THREADS_PER_WORKER = 8


cli = ServiceCli("catalogue", __doc__, Settings)
cli.migrate(CATALOGUE_MIGRATIONS)
cli.web("serve the HTTP API with gunicorn", threads=THREADS_PER_WORKER)
main = cli.main


@cli.command("worker", "project identity's account events (verified, reset, deleted)")
def run_worker(settings: Settings, _args: argparse.Namespace) -> None:
    """Consume identity's account events until SIGTERM (consumer group `catalogue`)."""
    group, topics = settings.consumer_group, (ACCOUNT_EVENTS,)
    consume(settings, "worker", "catalogue-worker", group, topics, HANDLERS, housekeeping=REVOCATION_EXPIRIES)


@cli.command("transcoder", "transcode uploaded masters into renditions (one job at a time)")
def run_transcoder(settings: Settings, _args: argparse.Namespace) -> None:
    """Transcode until SIGTERM; a job in hand is given back at once for another worker to take."""
    serve_metrics_of(settings, "transcoder")
    catalogue = bootstrap(
        settings, pool=create_pool(settings.database_url, name="catalogue-transcoder", max_size=2)
    )
    try:
        run_until_signalled(Transcoder(catalogue).run)
    finally:
        catalogue.pool.close()


cli.relay("publish the outbox (video events, audit records) to Kafka")


@cli.command("seed", "add the sample videos (rendered with ffmpeg) when missing")
def seed(settings: Settings, _args: argparse.Namespace) -> None:
    catalogue = bootstrap(settings)
    try:
        added = samples.seed(catalogue, catalogue.storage)
    except FfmpegMissing as missing:
        raise SystemExit(f"catalogue seed: {missing}") from None
    except StorageUnavailable as error:
        raise SystemExit(f"catalogue seed: the storage did not answer: {error}") from None
    finally:
        catalogue.pool.close()
    print(f"catalogue: {added} sample video(s) added")


@cli.command("storage-init", "create the bucket of CATALOGUE_STORAGE=s3://… when missing")
def storage_init(settings: Settings, _args: argparse.Namespace) -> None:
    storage = open_storage(settings.storage, settings.storage_root)
    if not isinstance(storage, S3Storage):
        print(f"catalogue: files stay in the folder {storage.root}")
        return
    try:
        created = storage.ensure_bucket()
    except (BotoCoreError, ClientError) as error:
        raise SystemExit(f"catalogue: cannot create or check the bucket {storage.bucket}: {error}") from None
    print(f"catalogue: bucket {storage.bucket} {'created' if created else 'already there'}")


def generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("count", type=at_least_one, help="how many videos to add (at least 1)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")


@cli.command("generate", "add N synthetic videos (benchmarks)", generate_arguments)
def generate(settings: Settings, args: argparse.Namespace) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        added = synthetic.generate(conn, args.count, args.seed)
    print(f"catalogue: {added} synthetic video(s) added")


if __name__ == "__main__":
    main()
