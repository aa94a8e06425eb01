"""File delivery by `catalogue web` from an S3 bucket (CATALOGUE_STORAGE=s3://…) next to a direct GET
of the same object from the store, in one run, with the worker's memory.

The object (CATALOGUE_S3_BENCH_MB, 512 by default) sits in a fresh bucket of the local S3Proxy. The
same client (http.client, 1 MiB reads, bytes discarded) downloads it in alternating rounds straight
from S3Proxy (a presigned URL: the store's own speed, no catalogue) and through one gunicorn worker of
`catalogue web` by a signed link (ranged GET from the store, bounded streamed read). The worker's peak
RSS (VmHWM) is read before and after. Run with `make bench BENCH=catalogue_s3_delivery`.
"""

import io
import os
import statistics
import sys
import urllib.parse
import uuid

from bench.catalogue_delivery import BLOCK, catalogue_web, download_mb_per_s
from bench.support import LOGS, BenchDatabases, infra_env
from catalogue.adapters.storage import S3Storage
from tests.support.catalogue import peak_rss_bytes
from tests.support.s3 import S3Server

ROUNDS = 3
LINK_KEY = f"bench-link-key-{uuid.uuid4().hex}"


class Repeated(io.RawIOBase):
    """`size` bytes of one random 1 MiB block repeated, made as they are read (no file on disk)."""

    def __init__(self, size: int) -> None:
        self.block, self.left = os.urandom(BLOCK), size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.left, BLOCK)
        buffer[:count] = self.block[:count]
        self.left -= count
        return count


def main() -> None:
    env = infra_env()
    size = int(os.environ.get("CATALOGUE_S3_BENCH_MB", "512")) * 1000**2
    if "AWS_ENDPOINT_URL" not in os.environ:
        raise SystemExit(
            "no AWS_ENDPOINT_URL: run it with `make bench` (deploy/local/infra.sh starts S3Proxy)"
        )
    s3 = S3Server(
        os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    )
    bucket = s3.new_bucket()
    storage = S3Storage(bucket, client=s3.client())
    storage.put("big/master.mxf", Repeated(size))  # type: ignore[arg-type]
    databases = BenchDatabases(env["DATABASE_URL"])
    LOGS.mkdir(parents=True, exist_ok=True)
    web_env = {**env, **s3.env, "CATALOGUE_DATABASE_URL": databases.create("catalogue"),
               "CATALOGUE_DOWNLOAD_LINK_KEY": LINK_KEY, "CATALOGUE_STORAGE": f"s3://{bucket}",
               "LOG_LEVEL": "WARNING"}  # fmt: skip
    try:
        with catalogue_web(web_env, "big/master.mxf", size) as (port, link, worker):
            rss_before = peak_rss_bytes(worker)
            direct = urllib.parse.urlsplit(storage.presigned_url("big/master.mxf", 3600))
            store_port, store_path = direct.port or 80, f"{direct.path}?{direct.query}"
            raw, served = [], []
            for _ in range(ROUNDS):
                raw.append(download_mb_per_s(store_port, store_path, size))
                served.append(download_mb_per_s(port, link, size))
            rss_after = peak_rss_bytes(worker)
    finally:
        databases.drop_all()
        s3.remove_created()
    report(size, raw, served, rss_before, rss_after)


def report(size: int, raw: list[float], served: list[float], rss_before: int, rss_after: int) -> None:
    raw_median, served_median = statistics.median(raw), statistics.median(served)
    print(f"object: {size / 1e6:.0f} MB in a bucket of S3Proxy (filesystem-nio2), {ROUNDS} rounds")
    print(f"S3Proxy direct:   {', '.join(f'{value:.0f}' for value in raw)} MB/s (median {raw_median:.0f})")
    print(
        f"catalogue web:    {', '.join(f'{value:.0f}' for value in served)} MB/s (median {served_median:.0f})"
    )
    print(f"ratio: {served_median / raw_median:.0%} of the store's own speed")
    print(f"worker peak RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB after")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
