"""The catalogue on an S3 bucket of a real S3 server (S3Proxy): the storage adapter itself, downloads
with ranges streamed from the bucket, the public preview, and the Repr-Digest of every file answer."""

import base64
import dataclasses
import hashlib
import io
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from accounts_common.db import create_pool
from catalogue import samples
from catalogue.adapters.s3 import s3_config
from catalogue.adapters.storage import (
    LocalStorage,
    MissingFile,
    S3Storage,
    UnsafeKey,
    open_storage,
)
from catalogue.entrypoints.app import create_app
from catalogue.migrations import CATALOGUE_MIGRATIONS
from tests.conftest import migrated_database
from tests.integration.catalogue.conftest import add_video, import_video
from tests.integration.catalogue.test_catalogue_downloads import get_link, local
from tests.integration.conftest import sign_up
from tests.support.processes import VENV_BIN, free_port
from tests.support.s3 import S3Server

CONTENT = bytes(range(256)) * 4000  # 1,024,000 bytes, every offset distinguishable
# Past boto3's 8 MiB multipart threshold: the upload goes in parts, as a rendition's would.
LARGE = hashlib.sha256(b"seed").digest() * (9 * 1024 * 1024 // 32 + 7)


def digest_field(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


@pytest.fixture(scope="module")
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()


@pytest.fixture(scope="module")
def storage(s3: S3Server, bucket: str) -> S3Storage:
    return S3Storage(bucket, "media", client=s3.client())


@pytest.fixture
def s3_client_app(make_catalogue, storage, bucket):  # type: ignore[no-untyped-def]
    """The catalogue's app with its files in the bucket (CATALOGUE_STORAGE=s3://bucket/media)."""
    base = make_catalogue(storage=f"s3://{bucket}/media", x_accel_redirect_prefix="/protected-media")
    return create_app(dataclasses.replace(base, storage=storage)).test_client()


@pytest.fixture
def token(served_identity, identity_pool, unique_email) -> str:  # type: ignore[no-untyped-def]
    return sign_up(served_identity.app.test_client(), identity_pool, unique_email)


def test_s3_storage_writes_reads_seeks_and_checksums(storage: S3Storage, s3: S3Server, bucket: str):
    key = f"test/{uuid.uuid4().hex}/master.mxf"
    storage.put(key, io.BytesIO(LARGE))
    assert storage.size(key) == len(LARGE)
    assert storage.checksum(key) == hashlib.sha256(LARGE).hexdigest()
    # Under the prefix, as boto3 sees the bucket.
    assert s3.client().head_object(Bucket=bucket, Key=f"media/{key}")["ContentLength"] == len(LARGE)
    with storage.open(key) as file:
        assert file.read(10) == LARGE[:10]
        file.seek(5_000_000)
        assert file.read(100) == LARGE[5_000_000:5_000_100]
        file.seek(-7, io.SEEK_END)
        assert file.read() == LARGE[-7:]
        assert file.read(10) == b""
    with pytest.raises(MissingFile):
        storage.size("test/missing.mp4")
    with pytest.raises(MissingFile):
        storage.open("test/missing.mp4")
    with pytest.raises(UnsafeKey):
        storage.put("../outside", io.BytesIO(b"x"))


class Unbuffered(io.RawIOBase):
    """A stream that cannot seek and reads short (a pipe, a socket): `size` bytes of a pattern."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.left, 64 * 1024)
        buffer[:count] = LARGE[:count]
        self.left -= count
        return count


def test_a_stream_past_a_single_put_limit_goes_in_parts(storage: S3Storage):
    # S3Proxy refuses one PUT over 128 MiB; boto3 would send a short-reading stream as one PUT.
    size = 140 * 2**20
    storage.put("test/stream.bin", Unbuffered(size))  # type: ignore[arg-type]
    assert storage.size("test/stream.bin") == size


def test_open_storage_reads_the_catalogue_storage_setting(tmp_path: Path):
    s3 = open_storage("s3://media-bucket/videos/", str(tmp_path))
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("media-bucket", "videos/")
    assert open_storage("", str(tmp_path)).root == tmp_path.resolve()  # type: ignore[union-attr]
    for wrong in ("s3://", "file:///srv/media", "/srv/media", "s3://bucket?x=1"):
        with pytest.raises(ValueError):
            open_storage(wrong, str(tmp_path))


def test_a_verified_account_downloads_from_the_bucket_with_ranges(s3_client_app, storage, token):
    key = f"test/{uuid.uuid4().hex}.mp4"
    storage.put(key, io.BytesIO(CONTENT))
    video = import_video(s3_client_app, key)
    assert video["renditions"][0]["checksum"] == hashlib.sha256(CONTENT).hexdigest()
    url = local(get_link(s3_client_app, video, token))

    whole = s3_client_app.get(url)
    assert (whole.status_code, whole.data) == (200, CONTENT)
    assert "X-Accel-Redirect" not in whole.headers  # nginx cannot read a bucket: the bytes come from here
    assert whole.headers["Repr-Digest"] == digest_field(CONTENT)
    size = len(CONTENT)
    for header, expected in [("bytes=0-99", CONTENT[:100]), ("bytes=500000-600000", CONTENT[500000:600001]),
                             ("bytes=-300", CONTENT[-300:])]:  # fmt: skip
        part = s3_client_app.get(url, headers={"Range": header})
        assert (part.status_code, part.data) == (206, expected), header
        assert part.headers["Repr-Digest"] == digest_field(CONTENT)  # of the whole file, on every part
    assert s3_client_app.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    head = s3_client_app.head(url)
    assert (head.status_code, int(head.headers["Content-Length"])) == (200, size)


def test_a_file_lost_from_the_bucket_is_503_not_500(s3_client_app, storage, s3, bucket, token):
    key = f"test/{uuid.uuid4().hex}.mp4"
    storage.put(key, io.BytesIO(b"soon gone"))
    video = import_video(s3_client_app, key)
    s3.client().delete_object(Bucket=bucket, Key=f"media/{key}")
    link = local(get_link(s3_client_app, video, token))
    for response in (s3_client_app.get(link), s3_client_app.head(link)):
        assert response.status_code == 503 and response.headers["Content-Type"] == "application/problem+json"


def test_a_store_that_does_not_answer_is_503_not_500(make_catalogue, s3_client_app, storage, token):
    key = f"test/{uuid.uuid4().hex}.mp4"
    storage.put(key, io.BytesIO(CONTENT))
    video = import_video(s3_client_app, key)
    link = local(get_link(s3_client_app, video, token))
    # The same bucket, through an address where nothing listens (the store down), retries off.
    once = s3_config().merge(Config(retries={"total_max_attempts": 1}))
    unreachable = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="y", config=once)  # fmt: skip
    base = make_catalogue(storage=f"s3://{storage.bucket}/media")
    down = create_app(dataclasses.replace(base, storage=S3Storage(storage.bucket, "media", unreachable)))
    client = down.test_client()
    for response in (client.get(link), client.get(f"/v1/videos/{video['id']}/preview")):
        assert response.status_code == 503, response.data
        assert response.json["type"].endswith("storage-unavailable")


class ReadsRefused:
    """The bucket's client, but every GET goes where nothing listens: the store answers HEAD, then fails."""

    def __init__(self, client: Any, unreachable: Any) -> None:
        self.client, self.unreachable = client, unreachable

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_object(self, **request: Any) -> Any:
        return self.unreachable.get_object(**request)


def test_a_store_that_fails_once_the_file_is_sized_is_503_not_a_200_cut_short(make_catalogue, storage, token):
    key = f"test/{uuid.uuid4().hex}.mp4"
    storage.put(key, io.BytesIO(CONTENT))
    once = s3_config().merge(Config(retries={"total_max_attempts": 1}))
    unreachable = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="y", config=once)  # fmt: skip
    base = make_catalogue(storage=f"s3://{storage.bucket}/media")
    refusing = S3Storage(storage.bucket, "media", ReadsRefused(storage.client, unreachable))
    client = create_app(dataclasses.replace(base, storage=refusing)).test_client()
    video = import_video(client, key, rendition={"checksum": hashlib.sha256(CONTENT).hexdigest()})
    link = local(get_link(client, video, token))
    for headers in ({}, {"Range": "bytes=100-199"}):
        answer = client.get(link, headers=headers)
        assert answer.status_code == 503 and answer.json["type"].endswith("storage-unavailable"), headers
    preview = client.get(f"/v1/videos/{video['id']}/preview")
    assert preview.status_code == 503


def test_the_preview_plays_from_the_bucket_for_anyone(s3_client_app, storage):
    key = f"test/{uuid.uuid4().hex}.mp4"
    storage.put(key, io.BytesIO(CONTENT))
    video = import_video(s3_client_app, key)
    preview = s3_client_app.get(f"/v1/videos/{video['id']}/preview", headers={"Range": "bytes=100-199"})
    assert (preview.status_code, preview.data) == (206, CONTENT[100:200])
    assert preview.headers["Content-Range"] == f"bytes 100-199/{len(CONTENT)}"
    assert preview.headers["Content-Type"] == "video/mp4"
    assert preview.headers["Repr-Digest"] == digest_field(CONTENT)


def test_the_preview_is_the_smallest_playable_rendition_for_anyone(catalogue_client, media_root):
    small, large = b"small rendition " * 1000, b"large rendition " * 4000
    files = {f"test/{uuid.uuid4().hex}.{size}": data for size, data in (("360", small), ("1080", large))}
    for key, data in files.items():
        (media_root / key).parent.mkdir(parents=True, exist_ok=True)
        (media_root / key).write_bytes(data)
    key_360, key_1080 = files
    mxf_key = f"test/{uuid.uuid4().hex}.mxf"
    (media_root / mxf_key).write_bytes(b"broadcast master")
    video = add_video(
        catalogue_client, media_root,
        renditions=[
            {"label": "Broadcast MXF", "container": "mxf", "codec": "mpeg2video", "width": 1920,
             "height": 1080, "bitrate": 50_000_000, "path": mxf_key},
            {"label": "1080p MP4", "container": "mp4", "codec": "h264", "width": 1920, "height": 1080,
             "bitrate": 8_000_000, "path": key_1080},
            {"label": "360p MP4", "container": "mp4", "codec": "h264", "width": 640, "height": 360,
             "bitrate": 800_000, "path": key_360},
        ],
    )  # fmt: skip
    path = f"/v1/videos/{video['id']}/preview"
    whole = catalogue_client.get(path)
    assert (whole.status_code, whole.data) == (200, small)
    assert whole.headers["Cache-Control"] == "public, max-age=3600"
    assert whole.headers["Content-Disposition"] == "inline"
    ranged = catalogue_client.get(path, headers={"Range": "bytes=0-15"})
    assert (ranged.status_code, ranged.data) == (206, small[:16])
    assert catalogue_client.get(f"/v1/videos/{uuid.uuid4()}/preview").status_code == 404


def test_a_transcoded_preview_has_its_sha256_as_etag(catalogue_client, media_root, catalogue_pool):
    video = add_video(catalogue_client, media_root)
    preview_key = f"test/{uuid.uuid4().hex}-preview.mp4"
    LocalStorage(media_root).write(preview_key, CONTENT)
    with catalogue_pool.connection() as conn:  # as the transcoder lists its preview
        conn.execute("UPDATE videos SET preview_key = %s WHERE id = %s", (preview_key, video["id"]))
    path, etag = f"/v1/videos/{video['id']}/preview", f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    whole = catalogue_client.get(path)
    assert (whole.status_code, whole.data, whole.headers["ETag"]) == (200, CONTENT, etag)
    assert catalogue_client.get(path, headers={"If-None-Match": etag}).status_code == 304
    ranged = catalogue_client.get(path, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (ranged.status_code, ranged.data) == (206, CONTENT[:10])
    stale = catalogue_client.get(path, headers={"Range": "bytes=0-9", "If-Range": '"None"'})
    assert (stale.status_code, stale.data) == (200, CONTENT)


def test_a_video_no_browser_plays_has_no_preview(catalogue_client, media_root):
    key = f"test/{uuid.uuid4().hex}.mxf"
    (media_root / key).parent.mkdir(parents=True, exist_ok=True)
    (media_root / key).write_bytes(b"broadcast master")
    video = add_video(
        catalogue_client, media_root,
        renditions=[{"label": "Broadcast MXF", "container": "mxf", "codec": "mpeg2video", "width": 1920,
                     "height": 1080, "bitrate": 50_000_000, "path": key}],
    )  # fmt: skip
    response = catalogue_client.get(f"/v1/videos/{video['id']}/preview")
    assert response.status_code == 404 and response.content_type == "application/problem+json"


def test_repr_digest_is_the_stored_checksum_not_recomputed(catalogue_client, media_root, token):
    key = f"test/{uuid.uuid4().hex}.mp4"
    (media_root / key).parent.mkdir(parents=True, exist_ok=True)
    (media_root / key).write_bytes(CONTENT)
    # The operator's checksum is kept as given: the answers show it, not a hash of today's bytes.
    stated = "ab" * 32
    video = import_video(catalogue_client, key, rendition={"checksum": stated})
    expected = f"sha-256=:{base64.b64encode(bytes.fromhex(stated)).decode()}:"
    download = catalogue_client.get(
        local(get_link(catalogue_client, video, token)), headers={"Range": "bytes=0-9"}
    )
    assert (download.status_code, download.headers["Repr-Digest"]) == (206, expected)
    preview = catalogue_client.head(f"/v1/videos/{video['id']}/preview")
    assert (preview.status_code, preview.headers["Repr-Digest"]) == (200, expected)


def test_storage_init_creates_the_bucket_once(s3: S3Server):
    bucket = f"test-init-{uuid.uuid4().hex[:16]}"
    s3.created.append(bucket)  # removed at the end of the run with the others
    env = {**os.environ, **s3.env, "CATALOGUE_STORAGE": f"s3://{bucket}/media", "ACCOUNTS_ENV": "development"}
    first = subprocess.run([VENV_BIN / "catalogue", "storage-init"], env=env, capture_output=True, text=True)
    assert first.returncode == 0 and f"bucket {bucket} created" in first.stdout, first.stderr
    again = subprocess.run([VENV_BIN / "catalogue", "storage-init"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "already there" in again.stdout, again.stderr
    S3Storage(bucket, client=s3.client()).put("a.txt", io.BytesIO(b"in the new bucket"))


def test_seeding_renders_the_samples_into_the_bucket(infra, s3: S3Server, make_catalogue):
    """`CATALOGUE_STORAGE=s3://… catalogue seed`: the sample files land in the bucket, once."""
    bucket = s3.new_bucket()
    database = migrated_database(infra, "test_catalogue_s3_seed", CATALOGUE_MIGRATIONS)
    storage = S3Storage(bucket, client=s3.client())
    with create_pool(database, name="test-catalogue-s3-seed") as pool:
        catalogue = dataclasses.replace(make_catalogue(), pool=pool, storage=storage)
        assert samples.seed(catalogue, storage) == len(samples.SAMPLES)
        assert samples.seed(catalogue, storage) == 0
        client = create_app(catalogue).test_client()
        [found] = client.get("/v1/videos?q=Dedonder").json["items"]
        listed = client.get(f"/v1/videos/{found['id']}").json["renditions"]
    checksums = {rendition["label"]: rendition["checksum"] for rendition in listed}
    for rendition in samples.SAMPLES[0].video.renditions:
        with storage.open(rendition.storage_key) as file:
            assert hashlib.sha256(file.read()).hexdigest() == checksums[rendition.label]
    keys = [item["Key"] for item in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert samples.thumbnail_key("stoltenberg-dedonder") in keys
    assert not [key for key in keys if key.endswith(".part")]
