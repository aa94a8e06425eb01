"""File delivery by `catalogue web` next to a raw os.sendfile copy of the same file, in one run.

DESIGN §7 aims for ≥ 80 % of the raw copy's MB/s, with flat worker memory. A 2 GB file (real
bytes, read once first so both sides read it from the page cache) is downloaded over loopback by
the same client (http.client, 1 MiB reads, bytes discarded), in alternating rounds from a bare
`os.sendfile` server and from one gunicorn worker of `catalogue web` through a signed link. The
worker's peak RSS (VmHWM) is read before and after. Run with `make bench BENCH=catalogue_delivery`.
"""

import http.client
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.support import LOGS, BenchDatabases, infra_env, write_incompressible
from tests.support.catalogue import granted_link, peak_rss_bytes, worker_pids
from tests.support.processes import ServiceProcess, free_port, run_once

FILE_SIZE = 2 * 1000**3
ROUNDS = 5
BLOCK = 1024 * 1024
LINK_KEY = f"bench-link-key-{uuid.uuid4().hex}"


def raw_sendfile_server(path: Path) -> int:
    """A bare server answering each connection with the file by os.sendfile; its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            with connection, path.open("rb") as file:
                connection.recv(65536)
                connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {FILE_SIZE}\r\n\r\n".encode())
                sent = 0
                while sent < FILE_SIZE:
                    sent += os.sendfile(connection.fileno(), file.fileno(), sent, FILE_SIZE - sent)

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def download_mb_per_s(port: int, path: str, size: int = FILE_SIZE) -> float:
    """Download once with http.client, discarding the bytes; MB/s (10^6 bytes)."""
    buffer = memoryview(bytearray(BLOCK))
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200, response.read(2000)
    received = 0
    while count := response.readinto(buffer):
        received += count
    connection.close()
    elapsed = time.perf_counter() - started
    assert received == size, received
    return size / elapsed / 1e6


@contextmanager
def catalogue_web(web_env: dict[str, str], key: str, size: int) -> Iterator[tuple[int, str, int]]:
    """One gunicorn worker of `catalogue web` on a migrated database, with a download link granted to
    the file `key` (`size` bytes): its port, the link and the worker's pid; stopped afterwards."""
    port = free_port()
    web = ServiceProcess(
        "catalogue-web", ["catalogue", "web", "--port", str(port), "--workers", "1"], web_env, LOGS
    )
    try:
        run_once(["catalogue", "migrate"], web_env)
        database_url, link_key = web_env["CATALOGUE_DATABASE_URL"], web_env["CATALOGUE_DOWNLOAD_LINK_KEY"]
        link = granted_link(database_url, key, size, link_key)
        web.start().wait_http(f"http://127.0.0.1:{port}/readyz")
        assert web.process is not None
        [worker] = worker_pids(web.process.pid)
        yield port, link, worker
    finally:
        web.stop()


def main() -> None:
    env = infra_env()
    databases = BenchDatabases(env["DATABASE_URL"])
    LOGS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="catalogue-delivery-") as folder:
        root = Path(folder)
        (root / "big").mkdir()
        write_incompressible(root / "big" / "master.mxf", FILE_SIZE)
        web_env = {
            **env,
            "CATALOGUE_DATABASE_URL": databases.create("catalogue"),
            "CATALOGUE_DOWNLOAD_LINK_KEY": LINK_KEY,
            "CATALOGUE_STORAGE_ROOT": str(root),
            "LOG_LEVEL": "WARNING",
        }
        try:
            with catalogue_web(web_env, "big/master.mxf", FILE_SIZE) as (port, link, worker):
                rss_before = peak_rss_bytes(worker)
                raw_port = raw_sendfile_server(root / "big" / "master.mxf")
                raw, served = [], []
                for _ in range(ROUNDS):
                    raw.append(download_mb_per_s(raw_port, "/"))
                    served.append(download_mb_per_s(port, link))
                rss_after = peak_rss_bytes(worker)
        finally:
            databases.drop_all()
    report(raw, served, rss_before, rss_after)


def report(raw: list[float], served: list[float], rss_before: int, rss_after: int) -> None:
    raw_median, served_median = statistics.median(raw), statistics.median(served)
    print(f"file: {FILE_SIZE / 1e9:.1f} GB from the page cache, {ROUNDS} alternating rounds, loopback")
    print(f"raw os.sendfile:  {', '.join(f'{value:.0f}' for value in raw)} MB/s (median {raw_median:.0f})")
    print(
        f"catalogue web:    {', '.join(f'{value:.0f}' for value in served)} MB/s (median {served_median:.0f})"
    )
    print(f"ratio: {served_median / raw_median:.0%} of the raw copy (aim ≥ 80 %)")
    print(f"worker peak RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB after "
          f"{ROUNDS} × {FILE_SIZE / 1e9:.1f} GB")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
