"""A file larger than the catalogue worker's memory limit downloads through `catalogue web` (gunicorn,
one worker under RLIMIT_AS) with flat memory: the bytes go by sendfile, never through Python."""

import http.client
import os
from pathlib import Path

from catalogue.migrations import CATALOGUE_MIGRATIONS
from tests.conftest import Infra, migrated_database
from tests.support.catalogue import granted_link, peak_rss_bytes, worker_pids
from tests.support.processes import VENV_BIN, ServiceProcess, free_port

GIB = 1024**3
FILE_SIZE = 2 * GIB + 12345
MEMORY_LIMIT = 1 * GIB  # address space of the gunicorn master and its worker
LINK_KEY = "e2e-download-link-key-of-at-least-32-bytes"
MARKERS = {0: b"first-bytes!", GIB: b"one-gib-mark", FILE_SIZE - 12: b"last-bytes!!"}
UNDER_LIMIT = (
    "import os, resource, sys; limit = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit)); os.execv(sys.argv[2], sys.argv[2:])"
)


def sparse_file(path: Path) -> None:
    """FILE_SIZE bytes that cost no disk: zeros, with a few markers at known offsets."""
    with path.open("wb") as file:
        file.truncate(FILE_SIZE)
        for offset, marker in MARKERS.items():
            file.seek(offset)
            file.write(marker)


def download(port: int, path: str, markers: dict[int, bytes]) -> tuple[int, dict[int, bytes]]:
    """Read the whole response in 1 MiB chunks; the byte count and the bytes found at the markers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200, response.read(2000)
    received, found = 0, {}
    while chunk := response.read(1024 * 1024):
        for offset, marker in markers.items():
            if received <= offset < received + len(chunk):
                found[offset] = chunk[offset - received : offset - received + len(marker)]
        received += len(chunk)
    connection.close()
    return received, found


def test_a_file_larger_than_the_memory_limit_downloads_with_flat_memory(infra: Infra, tmp_path: Path):
    root = tmp_path / "media"
    (root / "big").mkdir(parents=True)
    sparse_file(root / "big" / "master.mxf")
    port = free_port()
    env = {
        "CATALOGUE_DATABASE_URL": migrated_database(infra, "e2e_catalogue_delivery", CATALOGUE_MIGRATIONS),
        "CATALOGUE_DOWNLOAD_LINK_KEY": LINK_KEY,
        "CATALOGUE_STORAGE_ROOT": str(root),
        "MALLOC_ARENA_MAX": "2",
    }
    link = granted_link(env["CATALOGUE_DATABASE_URL"], "big/master.mxf", FILE_SIZE, LINK_KEY)
    argv = ["python", "-c", UNDER_LIMIT, str(MEMORY_LIMIT), str(VENV_BIN / "catalogue"), "web",
            "--port", str(port), "--workers", "1"]  # fmt: skip
    web = ServiceProcess("catalogue-web", argv, env, tmp_path).start()
    try:
        web.wait_http(f"http://127.0.0.1:{port}/readyz")
        assert web.process is not None
        [worker] = worker_pids(web.process.pid)
        before = peak_rss_bytes(worker)
        received, found = download(port, link, MARKERS)
        after = peak_rss_bytes(worker)
        assert received == FILE_SIZE > MEMORY_LIMIT
        assert found == MARKERS
        assert after - before < 32 * 1024 * 1024, f"peak RSS grew by {(after - before) >> 20} MiB"
        assert os.path.exists(f"/proc/{worker}"), "the worker survived the download"
    finally:
        web.stop()
