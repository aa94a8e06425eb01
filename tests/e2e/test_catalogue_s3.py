"""`catalogue web` (gunicorn) with its files in an S3 bucket of a real S3 server (S3Proxy): a granted
file and its byte ranges stream from the bucket through the process, with the stored Repr-Digest."""

import base64
import hashlib
import http.client
import io
from pathlib import Path

from catalogue.adapters.storage import S3Storage
from catalogue.migrations import CATALOGUE_MIGRATIONS
from tests.conftest import Infra, migrated_database
from tests.support.catalogue import granted_link
from tests.support.processes import ServiceProcess, free_port
from tests.support.s3 import S3Server

LINK_KEY = "e2e-download-link-key-of-at-least-32-bytes"
# A few MiB, every offset distinguishable: more than one chunk of the streamed read.
CONTENT = b"".join(hashlib.sha256(index.to_bytes(4, "big")).digest() for index in range(150_000))


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def test_a_granted_file_and_its_ranges_stream_from_the_bucket(infra: Infra, s3: S3Server, tmp_path: Path):
    bucket = s3.new_bucket()
    S3Storage(bucket, client=s3.client()).put("masters/master.mxf", io.BytesIO(CONTENT))
    sha256 = hashlib.sha256(CONTENT).hexdigest()
    port = free_port()
    env = {
        "CATALOGUE_DATABASE_URL": migrated_database(infra, "e2e_catalogue_s3", CATALOGUE_MIGRATIONS),
        "CATALOGUE_DOWNLOAD_LINK_KEY": LINK_KEY,
        "CATALOGUE_STORAGE": f"s3://{bucket}",
        # Set by `make run` for local files; with a bucket the catalogue must not hand the path to nginx.
        "CATALOGUE_X_ACCEL_REDIRECT_PREFIX": "/protected-media",
        **s3.env,
    }
    link = granted_link(env["CATALOGUE_DATABASE_URL"], "masters/master.mxf", len(CONTENT), LINK_KEY, sha256)
    web = ServiceProcess("catalogue-web", ["catalogue", "web", "--port", str(port)], env, tmp_path).start()
    try:
        web.wait_http(f"http://127.0.0.1:{port}/readyz")
        digest = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
        status, headers, body = get(port, link, {})
        assert (status, len(body), body == CONTENT) == (200, len(CONTENT), True)
        assert headers["Repr-Digest"] == digest and "X-Accel-Redirect" not in headers
        for start, end in ((0, 0), (1_000_003, 2_500_000), (len(CONTENT) - 100, len(CONTENT) - 1)):
            status, headers, body = get(port, link, {"Range": f"bytes={start}-{end}"})
            assert (status, body) == (206, CONTENT[start : end + 1]), (start, end)
            assert headers["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
            assert headers["Repr-Digest"] == digest
    finally:
        web.stop()
