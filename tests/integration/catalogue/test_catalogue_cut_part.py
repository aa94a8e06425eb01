"""A part whose sender was cut off mid-body, on an S3Proxy of the module's own (deploy/local/s3proxy.sh
in a temporary state folder): S3Proxy's filesystem backend keeps the file it was writing the part to,
and every listing that meets it fails. Only that upload stops (the other uploads are still
terminated), and deploy/local deletes the file when S3Proxy starts again, after which the upload
resumes and terminates leaving nothing."""

import dataclasses
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from catalogue.adapters.storage import S3Storage, StorageUnavailable
from catalogue.adapters.upload_locks import pg_lock
from catalogue.adapters.upload_parts import MIN_PART_BYTES, S3UploadArea
from catalogue.adapters.upload_store import Upload, find_upload
from catalogue.entrypoints.app import create_app
from tests.integration.catalogue.conftest import editor
from tests.support.polling import wait_for
from tests.support.s3 import S3Server, private_s3proxy, s3proxy_data, s3proxy_script
from tests.support.stalling_proxy import stalling_proxy

PART = MIN_PART_BYTES
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}
ETAG = "user.user.content-md5"  # where S3Proxy keeps an object's ETag, once the object is whole


@dataclasses.dataclass(frozen=True)
class OwnS3Proxy:
    server: S3Server
    folder: Path

    def restart(self) -> None:
        s3proxy_script(self.folder, int(self.server.endpoint.rsplit(":", 1)[1]), "restart")

    def unfinished(self) -> list[Path]:
        """The files S3Proxy holds without an ETag: writes it never finished."""
        data = s3proxy_data(self.folder)
        files = [Path(folder, name) for folder, _, names in os.walk(data) for name in names]
        return [path for path in files if ETAG not in os.listxattr(path)]


@pytest.fixture(scope="module")
def own_s3proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnS3Proxy]:
    folder = tmp_path_factory.mktemp("cut-part")
    with private_s3proxy(folder) as server:
        yield OwnS3Proxy(server, folder)


@pytest.fixture
def bucket_app(own_s3proxy: OwnS3Proxy, make_catalogue):  # type: ignore[no-untyped-def]
    """The catalogue in-process with its uploads in a new bucket of the module's S3Proxy."""
    bucket = f"cut-{uuid.uuid4().hex[:12]}"
    own_s3proxy.server.client().create_bucket(Bucket=bucket)
    base = make_catalogue()
    storage = S3Storage(bucket, "media", client=own_s3proxy.server.client())
    catalogue = dataclasses.replace(
        base, storage=storage, uploads=S3UploadArea(storage, pg_lock(base.settings.database_url), PART)
    )
    return catalogue, create_app(catalogue).test_client()


def create(client: Any, length: int) -> str:
    created = client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": str(length)})
    assert created.status_code == 201, created.data
    return str(created.headers["Location"]).split("localhost", 1)[1]


def patch(client: Any, path: str, offset: int, data: bytes) -> int:
    return int(
        client.patch(
            path, data=data, headers=editor() | TUS | OCTETS | {"Upload-Offset": str(offset)}
        ).status_code
    )


def cut_a_part(own: OwnS3Proxy, catalogue: Any, path: str, data: bytes) -> Upload:
    """Another process sends `data` to the upload as its next part, streamed (as over https), and is
    cut off mid-body; the upload's row."""
    with psycopg.connect(catalogue.settings.database_url) as conn:
        upload = find_upload(conn, uuid.UUID(path.rsplit("/", 1)[1]))
    assert upload is not None
    with stalling_proxy(own.server.endpoint) as proxy, ThreadPoolExecutor(1) as threads:
        client = dataclasses.replace(own.server, endpoint=proxy.endpoint).client(
            signature_version="s3", retries={"total_max_attempts": 1}
        )
        area = S3UploadArea(
            S3Storage(catalogue.storage.bucket, "media", client=client), catalogue.uploads.lock
        )

        def send() -> None:
            with area.writer(upload) as writer:
                writer.write(data)

        proxy.stall_parts.set()
        sending = threads.submit(send)
        wait_for(proxy.stalled.is_set, timeout=30, what="the part on its way, held")
        # Relayed is not yet read: under load S3Proxy may start writing the part a moment later, and
        # cut before that, no write is left unfinished.
        wait_for(lambda: own.unfinished(), timeout=30, what="S3Proxy writing the part")
        proxy.cut()
        with pytest.raises(StorageUnavailable):
            sending.result(timeout=60)
    return upload


def test_a_part_cut_off_stops_its_upload_alone(own_s3proxy: OwnS3Proxy, bucket_app):  # type: ignore[no-untyped-def]
    catalogue, client = bucket_app
    other = create(client, 3 * PART)
    assert patch(client, other, 0, os.urandom(1000)) == 204  # a tail
    path = create(client, 3 * PART)
    assert patch(client, path, 0, os.urandom(PART)) == 204
    upload = cut_a_part(own_s3proxy, catalogue, path, os.urandom(PART))
    assert len(own_s3proxy.unfinished()) == 1
    with pytest.raises(ClientError):  # the bucket's listing of multipart uploads meets it
        own_s3proxy.server.client().list_multipart_uploads(Bucket=catalogue.storage.bucket)
    # The other upload is terminated all the same (its multipart upload aborted by its row's id).
    assert client.delete(other, headers=editor() | TUS).status_code == 204
    assert client.head(other, headers=editor() | TUS).status_code == 404
    # That upload's parts cannot be listed: its offset is unknown (503, "try again"), not made up.
    assert client.head(path, headers=editor() | TUS).status_code == 503
    assert client.delete(path, headers=editor() | TUS).status_code == 503
    # Expiry forgets it all the same, blocking no other: S3Proxy answers its abort's retry NoSuchUpload
    # (the first attempt took the multipart upload's marker, then failed listing the parts).
    catalogue.uploads.delete(upload)


def test_deploy_local_deletes_the_file_of_a_cut_part_when_s3proxy_starts(own_s3proxy: OwnS3Proxy, bucket_app):  # type: ignore[no-untyped-def]
    catalogue, client = bucket_app
    path = create(client, 3 * PART)
    assert patch(client, path, 0, os.urandom(PART)) == 204
    cut_a_part(own_s3proxy, catalogue, path, os.urandom(PART))
    s3 = own_s3proxy.server.client()
    named_like_one = f"media/kept-{uuid.uuid4()}"  # an object whose name ends as an unfinished write's
    s3.put_object(Bucket=catalogue.storage.bucket, Key=named_like_one, Body=b"kept")
    assert own_s3proxy.unfinished()
    own_s3proxy.restart()
    assert own_s3proxy.unfinished() == []
    assert s3.get_object(Bucket=catalogue.storage.bucket, Key=named_like_one)["Body"].read() == b"kept"
    # The upload resumes where its last whole part ended, and its termination leaves nothing.
    head = client.head(path, headers=editor() | TUS)
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, str(PART))
    assert client.delete(path, headers=editor() | TUS).status_code == 204
    s3.delete_object(Bucket=catalogue.storage.bucket, Key=named_like_one)
    assert not s3.list_multipart_uploads(Bucket=catalogue.storage.bucket).get("Uploads")
    assert not s3.list_objects_v2(Bucket=catalogue.storage.bucket).get("Contents")
