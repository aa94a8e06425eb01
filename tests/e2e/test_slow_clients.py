"""Slow clients against nginx in front of running services, as `make run` puts it (nginx_conf.py).

Sixty connections that send half a request and then nothing, or ask for a file and never read it, take
every gunicorn worker of a service that faces them directly: identity's two sync workers, the catalogue's
sixteen threads. In front of them nginx holds those connections itself, so a normal request still gets
its answer; the catalogue hands its files to nginx by X-Accel-Redirect, and a silent client is dropped.
"""

import hashlib
import json
import os
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from tusclient import client as tus

from catalogue.entrypoints.delivery import repr_digest
from catalogue.migrations import CATALOGUE_MIGRATIONS
from tests.conftest import Infra, Stack, migrated_database
from tests.e2e.conftest import stack_staff_header
from tests.support.catalogue import granted_link
from tests.support.nginx import slowloris, start_nginx, unread_downloads
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, stop_all
from tests.support.staff import AdminGrants

FILE_BYTES = 8 * 1024 * 1024
HELD = 60
# The failure condition of "still answers": a request that waits longer than this has been starved.
ANSWER_TIMEOUT_S = 10
# The drop test's nginx drops a client silent for 1 s of its headers (`make run`'s, for 10 s): the drop is
# what is tested, not its length. It must have happened well before this.
DROP_HEADER_TIMEOUT = "1s"
DROP_TIMEOUT_S = 40


@dataclass(frozen=True)
class Fronted:
    identity_url: str
    catalogue_url: str
    catalogue_internal_url: str
    link: str
    lost_link: str  # to a file that is not in the media folder
    content: bytes
    uploads: Path
    media: Path
    editor: dict[str, str]


@pytest.fixture(scope="module")
def fronted(
    stack: Stack, infra: Infra, staff_admin: AdminGrants, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fronted]:
    """identity (the shared stack's) and a catalogue web of this module's, each behind nginx."""
    logs, media = tmp_path_factory.mktemp("slow-logs"), tmp_path_factory.mktemp("slow-media")
    content = uuid.uuid4().bytes * (FILE_BYTES // 16)
    (media / "big.mxf").write_bytes(content)
    link_key = f"slow-link-key-{uuid.uuid4().hex}"
    catalogue_port, identity_public, catalogue_public = free_port(), free_port(), free_port()
    env = {
        "CATALOGUE_DATABASE_URL": migrated_database(infra, "e2e_slow_catalogue", CATALOGUE_MIGRATIONS),
        "CATALOGUE_DOWNLOAD_LINK_KEY": link_key,
        "CATALOGUE_STORAGE_ROOT": str(media),
        "CATALOGUE_UPLOAD_ROOT": str(media / ".uploads"),
        "CATALOGUE_X_ACCEL_REDIRECT_PREFIX": "/protected-media",
        "CATALOGUE_PUBLIC_URL": f"http://127.0.0.1:{catalogue_public}",
        "IDENTITY_JWKS_URL": f"{stack.identity_url}/.well-known/jwks.json",
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
    }
    catalogue = ServiceProcess(
        "catalogue-web", ["catalogue", "web", "--port", str(catalogue_port)], env, logs
    )
    identity_port = int(stack.identity_url.rsplit(":", 1)[1])
    with ExitStack() as cleanup:
        catalogue.start()
        cleanup.callback(stop_all, [catalogue])
        catalogue.wait_http(f"http://127.0.0.1:{catalogue_port}/readyz")
        routes = {identity_public: identity_port, catalogue_public: catalogue_port}
        nginx = start_nginx(tmp_path_factory.mktemp("nginx"), routes, {catalogue_public: media})
        cleanup.callback(nginx.stop)
        yield Fronted(
            identity_url=f"http://127.0.0.1:{identity_public}",
            catalogue_url=f"http://127.0.0.1:{catalogue_public}",
            catalogue_internal_url=f"http://127.0.0.1:{catalogue_port}",
            link=granted_link(env["CATALOGUE_DATABASE_URL"], "big.mxf", len(content), link_key),
            lost_link=granted_link(env["CATALOGUE_DATABASE_URL"], "lost.mxf", 10, link_key),
            content=content,
            uploads=media / ".uploads",
            media=media,
            editor=stack_staff_header(stack, infra, staff_admin, "catalogue-editor"),
        )


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET `url`; a starved server fails it with a timeout."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
        return response.status, dict(response.headers), response.read()


def answer(request: urllib.request.Request) -> tuple[int, Message, bytes]:
    """The answer to `request`, an error status included, with every header as sent (repeats too)."""
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    return answer(urllib.request.Request(url, headers=headers or {}))


def closing(held: list[socket.socket]) -> ExitStack:
    stack = ExitStack()
    for client in held:
        stack.callback(client.close)
    return stack


def test_nginx_sends_the_catalogues_files_ranges_included(fronted: Fronted) -> None:
    status, headers, body = fetch(fronted.catalogue_url + fronted.link)
    assert (status, body) == (200, fronted.content)
    assert headers["ETag"] == f'"{"0" * 64}"'  # the catalogue's validator, not nginx's
    assert headers["Repr-Digest"] == repr_digest("0" * 64)  # the stored SHA-256, kept by nginx
    assert headers["Content-Disposition"].startswith("attachment")
    status, headers, body = fetch(fronted.catalogue_url + fronted.link, {"Range": "bytes=100-199"})
    assert (status, body) == (206, fronted.content[100:200])
    assert headers["Content-Range"] == f"bytes 100-199/{len(fronted.content)}"
    assert headers["Repr-Digest"] == repr_digest("0" * 64)  # of the whole file, on a range too
    # Never sniffed, never run as a page of the catalogue's address: the catalogue's word, kept by nginx.
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'; sandbox"
    # Behind it, the catalogue checked the link and answered with the redirect alone.
    status, headers, body = fetch(fronted.catalogue_internal_url + fronted.link)
    assert headers["X-Accel-Redirect"] == "/protected-media/big.mxf" and body == b""


def test_a_file_lost_from_storage_is_the_catalogues_503_through_nginx_too(fronted: Fronted) -> None:
    url = fronted.catalogue_url + fronted.lost_link
    status, headers, body = get(url)
    assert (status, headers["Content-Type"]) == (503, "application/problem+json"), body
    assert json.loads(body)["type"] == "/problems/file-unavailable"
    status, headers, _ = answer(urllib.request.Request(url, method="HEAD"))
    assert (status, headers["Content-Type"]) == (503, "application/problem+json")


def test_a_preview_through_nginx_keeps_vary_and_is_cached_publicly_only_without_a_token(
    fronted: Fronted,
) -> None:
    """nginx sends the preview (X-Accel-Redirect) with the catalogue's Vary: Authorization and its
    Cache-Control, public without a token and private with one: a shared cache must neither hand an
    answer to a request with a token to anyone else, nor an anonymous one to a request with a token."""
    content = uuid.uuid4().bytes * 4096
    sha256 = hashlib.sha256(content).hexdigest()
    (fronted.media / "previews").mkdir()
    (fronted.media / "previews" / "clip.mp4").write_bytes(content)
    rendition = {"label": "360p MP4", "container": "mp4", "codec": "h264", "width": 640, "height": 360,
                 "bitrate": 800_000, "path": "previews/clip.mp4"}  # fmt: skip
    video = {"title": {"en": "Preview"}, "published_at": "2021-02-11T14:00:00Z", "duration": 4,
             "renditions": [rendition]}  # fmt: skip
    status, _, created = answer(
        urllib.request.Request(
            f"{fronted.catalogue_url}/v1/videos/imports",
            data=json.dumps(video).encode(),
            headers=fronted.editor | {"Content-Type": "application/json"},
        )
    )
    assert status == 201, created
    preview = f"{fronted.catalogue_url}/v1/videos/{json.loads(created)['id']}/preview"

    status, headers, body = get(preview)
    assert (status, body) == (200, content)
    assert headers.get_all("Vary") == ["Authorization"]
    assert headers.get_all("Cache-Control") == ["public, max-age=3600"]
    assert headers.get_all("ETag") == [f'"{sha256}"']  # the catalogue's, not nginx's
    assert headers["Content-Type"] == "video/mp4"
    assert headers["Content-Length"] == str(len(content))
    assert "X-Accel-Redirect" not in headers

    status, headers, body = get(preview, {"Range": "bytes=10-19"})
    assert (status, body) == (206, content[10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(content)}"
    assert headers.get_all("Vary") == ["Authorization"]
    assert headers.get_all("Cache-Control") == ["public, max-age=3600"]

    status, headers, body = get(preview, fronted.editor)
    assert (status, body) == (200, content)
    assert headers.get_all("Vary") == ["Authorization"]
    assert headers.get_all("Cache-Control") == ["private, max-age=0"]
    assert headers.get_all("ETag") == [f'"{sha256}"']
    assert headers["Content-Length"] == str(len(content))

    # Revalidated, the catalogue answers itself (no file): nginx passes its headers on.
    status, headers, body = get(preview, {"If-None-Match": f'W/"{sha256}"'})
    assert (status, body) == (304, b"")
    assert headers.get_all("Vary") == ["Authorization"]
    assert headers.get_all("ETag") == [f'"{sha256}"']


def test_sixty_slow_clients_on_the_catalogue_leave_search_and_downloads_answering(fronted: Fronted) -> None:
    held = slowloris(port_of(fronted.catalogue_url), HELD // 2)
    held += unread_downloads(fronted.catalogue_url + fronted.link, HELD // 2)
    with closing(held):
        assert fetch(f"{fronted.catalogue_url}/v1/videos?q=summit")[0] == 200
        assert fetch(f"{fronted.catalogue_url}/healthz")[0] == 200
        status, _, body = fetch(fronted.catalogue_url + fronted.link)
        assert (status, len(body)) == (200, len(fronted.content))


def test_sixty_slowloris_connections_on_identity_leave_it_answering(fronted: Fronted) -> None:
    with closing(slowloris(port_of(fronted.identity_url), HELD)):
        assert fetch(f"{fronted.identity_url}/healthz")[0] == 200
        assert fetch(f"{fronted.identity_url}/.well-known/jwks.json")[0] == 200


def test_a_client_that_stops_sending_its_headers_is_dropped(stack: Stack, tmp_path: Path) -> None:
    public = free_port()
    routes = {public: port_of(stack.identity_url)}
    nginx = start_nginx(tmp_path, routes, {}, f"--client-header-timeout={DROP_HEADER_TIMEOUT}")
    try:
        (client,) = slowloris(public, 1)
        client.settimeout(DROP_TIMEOUT_S)
        with client:
            try:
                answer = client.recv(1024)
            except ConnectionResetError:
                answer = b""
    finally:
        nginx.stop()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_tus_uploads_stream_through_nginx_uncapped_and_a_cut_keeps_what_arrived(
    fronted: Fronted, tmp_path
) -> None:
    """The uploads' location: one PATCH past nginx's 64 MB body limit goes through, and a PATCH whose
    client vanishes reaches the catalogue as far as it came (nginx does not spool it first)."""
    data = os.urandom(1024 * 1024) * 70
    (tmp_path / "master.bin").write_bytes(data)
    uploads = f"{fronted.catalogue_url}/v1/uploads/"
    uploader = tus.TusClient(uploads, headers=fronted.editor).uploader(
        str(tmp_path / "master.bin"), chunk_size=len(data)
    )
    uploader.upload()
    assert (fronted.uploads / str(uploader.url).rsplit("/", 1)[1].replace("-", "")).read_bytes() == data

    second = tus.TusClient(uploads, headers=fronted.editor).uploader(
        str(tmp_path / "master.bin"), chunk_size=1
    )
    url = second.create_url()
    path = url.removeprefix(fronted.catalogue_url)
    sent = 5 * 1024 * 1024
    tus_headers = fronted.editor | {"Tus-Resumable": "1.0.0"}

    def offset_now() -> int:
        request = urllib.request.Request(url, method="HEAD", headers=tus_headers)
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
            return int(response.headers["Upload-Offset"])

    def writing() -> bool:
        """Whether the catalogue still holds the upload's lock (an empty PATCH is refused with 423)."""
        probe = urllib.request.Request(url, data=b"", method="PATCH", headers=tus_headers | {
            "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})  # fmt: skip
        try:
            urllib.request.urlopen(probe, timeout=ANSWER_TIMEOUT_S)
        except urllib.error.HTTPError as refused:
            return refused.code == 423
        return False

    def kept() -> int | None:
        """The upload's offset once the catalogue has finished with the cut PATCH: the same before and
        after a probe that finds the lock released (a HEAD alone may read it while still writing)."""
        before = offset_now()
        if writing():
            return None
        after = offset_now()
        return after if after == before else None

    with socket.create_connection(("127.0.0.1", port_of(fronted.catalogue_url))) as connection:
        head = (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n"
                f"Authorization: {fronted.editor['Authorization']}\r\n\r\n")  # fmt: skip
        connection.sendall(head.encode() + data[:sent])
        # The client still there, 65 MiB short of its body: nginx spooling the body first would pass the
        # catalogue none of it until the whole had come.
        streamed = wait_for(offset_now, timeout=DROP_TIMEOUT_S, what="bytes of the unfinished PATCH")
    # The client gone: as far as the catalogue had read it, never more than was sent. nginx ends the
    # upstream connection as soon as it reads the client's end, and what still sat in the catalogue's
    # socket is lost (1 MiB of the 5 kept on a loaded machine, all 5 when quiet).
    offset = wait_for(kept, timeout=DROP_TIMEOUT_S, what="the cut upload's bytes kept")
    assert 0 < streamed <= offset <= sent
    resumed = tus.TusClient(uploads, headers=fronted.editor).uploader(
        str(tmp_path / "master.bin"), url=url, chunk_size=32 * 1024 * 1024
    )
    assert resumed.offset == offset
    resumed.upload()
    assert (fronted.uploads / url.rsplit("/", 1)[1].replace("-", "")).read_bytes() == data
