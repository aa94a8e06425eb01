"""tus uploads into `catalogue web` next to a raw local copy of the same file and, when a tusd binary
is given, next to tusd (the protocol's reference server, Go), in one run.

The file (1 GiB by default, UPLOAD_BENCH_BYTES to change; real bytes, read once first so every side
reads it from the page cache) is uploaded by tuspy in 32 MiB PATCH requests over loopback, in
alternating rounds: a raw `shutil.copyfile`, the catalogue (one gunicorn worker, a catalogue editor's
token), and tusd (UPLOAD_BENCH_TUSD=path, plain file store, no hooks). The catalogue worker's and
tusd's peak RSS
(VmHWM) are read before and after. Run with `make bench BENCH=catalogue_upload`
(`UPLOAD_BENCH_TUSD=$(go env GOPATH)/bin/tusd make bench BENCH=catalogue_upload` for the comparison;
`CATALOGUE_STORAGE=s3://catalogue-media/bench make bench BENCH=catalogue_upload` for uploads into the
local S3Proxy's bucket; the run leaves its multipart uploads there, `deploy/local/s3proxy.sh reset`
empties it).
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tusclient import client as tus

from bench.support import LOGS, BenchDatabases, infra_env, write_incompressible
from tests.support.catalogue import peak_rss_bytes, worker_pids
from tests.support.processes import ServiceProcess, free_port, run_once
from tests.support.staff import PrivateIdentity

FILE_SIZE = int(os.environ.get("UPLOAD_BENCH_BYTES", 2**30))
CHUNK = 32 * 2**20
ROUNDS = 2


def timed_mb_per_s(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return FILE_SIZE / (time.perf_counter() - started) / 1e6


def tus_upload(url: str, headers: dict[str, str], path: Path) -> None:
    uploader = tus.TusClient(url, headers=headers).uploader(str(path), chunk_size=CHUNK)
    uploader.upload()
    assert uploader.offset == FILE_SIZE, uploader.offset


def start_tusd(binary: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-upload-dir",
            str(folder),
            "-base-path",
            "/files/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/files/"


def main() -> None:
    tusd_binary = os.environ.get("UPLOAD_BENCH_TUSD")
    env = infra_env()
    databases = BenchDatabases(env["DATABASE_URL"])
    LOGS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="catalogue-upload-") as folder:
        root = Path(folder)
        source = root / "master.bin"
        write_incompressible(source, FILE_SIZE)
        identity = PrivateIdentity.start(env["KAFKA_BOOTSTRAP_SERVERS"], databases.create("identity"), LOGS)
        port = free_port()
        web_env = {
            **env,
            "CATALOGUE_DATABASE_URL": databases.create("catalogue"),
            "CATALOGUE_DOWNLOAD_LINK_KEY": "bench-upload-link-key-of-32-bytes-at-least",
            "CATALOGUE_STORAGE_ROOT": str(root / "media"),
            "CATALOGUE_UPLOAD_ROOT": str(root / "uploads"),
            "CATALOGUE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "IDENTITY_JWKS_URL": f"{identity.url}/.well-known/jwks.json",
            "LOG_LEVEL": "WARNING",
        }
        web = ServiceProcess("catalogue-web", ["catalogue", "web", "--port", str(port), "--workers", "1"],
                             web_env, LOGS)  # fmt: skip
        tusd = None
        try:
            run_once(["catalogue", "migrate"], web_env)
            web.start().wait_http(f"http://127.0.0.1:{port}/readyz")
            editor = identity.staff_header("catalogue-editor")
            assert web.process is not None
            [worker] = worker_pids(web.process.pid)
            if tusd_binary:
                tusd, tusd_url = start_tusd(tusd_binary, root / "tusd")
            rss_before = peak_rss_bytes(worker)
            tusd_rss_before = peak_rss_bytes(tusd.pid) if tusd else 0
            raw, served, reference = [], [], []
            for round_number in range(ROUNDS):
                copy = root / f"copy-{round_number}"
                raw.append(timed_mb_per_s(lambda: shutil.copyfile(source, copy)))  # noqa: B023
                copy.unlink()
                served.append(timed_mb_per_s(lambda: tus_upload(f"http://127.0.0.1:{port}/v1/uploads/",
                                                                editor, source)))  # fmt: skip
                shutil.rmtree(root / "uploads", ignore_errors=True)  # none with CATALOGUE_STORAGE=s3://…
                if tusd:
                    reference.append(timed_mb_per_s(lambda: tus_upload(tusd_url, {}, source)))
                    shutil.rmtree(root / "tusd", ignore_errors=True)
            rss_after = peak_rss_bytes(worker)
            tusd_rss_after = peak_rss_bytes(tusd.pid) if tusd else 0
        finally:
            if tusd:
                tusd.terminate()
                tusd.wait(10)
            web.stop()
            identity.process.stop()
            databases.drop_all()
    print(
        f"file: {FILE_SIZE / 2**30:.1f} GiB from the page cache, {ROUNDS} rounds, "
        f"tuspy, {CHUNK >> 20} MiB PATCHes"
    )
    print(f"raw local copy: {', '.join(f'{v:.0f}' for v in raw)} MB/s (median {statistics.median(raw):.0f})")
    print(
        f"catalogue tus:  {', '.join(f'{v:.0f}' for v in served)} MB/s "
        f"(median {statistics.median(served):.0f})"
    )
    print(
        f"catalogue worker peak RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB after"
    )
    if reference:
        print(f"tusd:           {', '.join(f'{v:.0f}' for v in reference)} MB/s "
              f"(median {statistics.median(reference):.0f})")  # fmt: skip
        print(
            f"tusd peak RSS: {tusd_rss_before / 2**20:.0f} MiB before, {tusd_rss_after / 2**20:.0f} MiB after"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
