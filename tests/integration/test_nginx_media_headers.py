"""The headers of a file nginx sends itself for the catalogue (X-Accel-Redirect to `--media`), under TLS
as in a pod that ends TLS itself. nginx keeps only a few of the upstream's headers for such an answer,
and an `add_header` in a location hides the server's: what a browser must be told about a file (not to
sniff its type, to sandbox it, HTTPS only) must be said there again. A small HTTP server stands for the
catalogue."""

import http.server
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.nginx import exchange, self_signed, start_generated_nginx
from tests.support.processes import free_port

HOST = "catalogue.test"
FILE = b"<html><script>alert(document.domain)</script></html>"
CATALOGUE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
}


class Catalogue(http.server.BaseHTTPRequestHandler):
    """Hands every file to nginx, as the catalogue does with CATALOGUE_X_ACCEL_REDIRECT_PREFIX."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("X-Accel-Redirect", "/protected-media/thumbnail.jpg")
        for name, value in CATALOGUE_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@dataclass(frozen=True)
class Pod:
    https: int
    tls: ssl.SSLContext


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    folder = tmp_path_factory.mktemp("media")
    (folder / "media").mkdir()
    (folder / "media" / "thumbnail.jpg").write_bytes(FILE)
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Catalogue)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    https = free_port()
    certificate, key = self_signed(folder, HOST)
    arguments = [
        f"--route={https}:127.0.0.1:{upstream.server_address[1]}",
        f"--media={https}:{folder / 'media'}",
        f"--tls={certificate}:{key}",
    ]
    nginx = start_generated_nginx(folder / "nginx", arguments, [https])
    yield Pod(https, ssl.create_default_context(cafile=certificate))
    nginx.stop()
    upstream.shutdown()


def get(pod: Pod, path: str, headers: str = ""):  # type: ignore[no-untyped-def]
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{headers}Connection: close\r\n\r\n"
    return exchange(pod.https, request, pod.tls, HOST)


def test_a_file_nginx_sends_keeps_the_catalogues_nosniff_and_sandbox_and_the_servers_hsts(pod: Pod):
    for answer in (
        get(pod, "/v1/videos/x/thumbnail"),
        get(pod, "/v1/videos/x/thumbnail", "Range: bytes=0-5\r\n"),
    ):
        assert answer.status in (200, 206)
        assert answer.body in (FILE, FILE[:6])
        assert answer.content_type == "image/jpeg"
        for name, value in CATALOGUE_HEADERS.items():
            assert answer.headers.get(name) == value, name
        assert answer.headers.get("Strict-Transport-Security") == "max-age=63072000"
