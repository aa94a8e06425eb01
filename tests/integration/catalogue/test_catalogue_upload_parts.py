"""tus uploads into the bucket (CATALOGUE_STORAGE=s3://…): two `catalogue web` processes sharing nothing
but a real S3Proxy bucket and the PostgreSQL database take the PATCHes of one upload in turn, a request
cut mid-body keeps what arrived, a concurrent PATCH on the other process is 423, and termination and
expiry leave no multipart upload and no tail object in the bucket."""

import dataclasses
import hashlib
import http.client
import json
import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.config import Config
from flask import Flask
from tusclient import client as tus

from catalogue.adapters.s3 import s3_config
from catalogue.adapters.storage import S3Storage, StorageUnavailable
from catalogue.adapters.upload_locks import lock_key, part_key, pg_lock
from catalogue.adapters.upload_parts import MIN_PART_BYTES, Part, S3UploadArea
from catalogue.adapters.upload_store import Upload, find_upload
from catalogue.entrypoints.app import create_app
from catalogue.migrations import CATALOGUE_MIGRATIONS
from catalogue.service_layer import uploads
from tests.conftest import Infra, database_fixtures
from tests.integration.catalogue.conftest import LINK_KEY, editor, unique_word
from tests.support.catalogue import videos_cannot_be_recorded
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, stop_all
from tests.support.s3 import S3Server
from tests.support.served import ServedIdentity
from tests.support.stalling_proxy import stalling_proxy

PART = MIN_PART_BYTES
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


@dataclass
class Pods:
    """Two web processes of one catalogue, each with its own (unused) upload folder."""

    ports: list[int]
    bucket: str
    database_url: str
    s3: S3Server

    def request(
        self, pod: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> "Answer":
        connection = http.client.HTTPConnection("127.0.0.1", self.ports[pod], timeout=60)
        connection.request(method, path, body=body, headers=editor() | TUS | (headers or {}))
        response = connection.getresponse()
        answer = Answer(response.status, response.headers, response.read())
        connection.close()
        return answer

    def create(self, length: int) -> str:
        created = self.request(0, "POST", "/v1/uploads/", {"Upload-Length": str(length)})
        assert created.status == 201
        return created.headers["Location"].split(f":{self.ports[0]}", 1)[1]

    def offset(self, pod: int, path: str) -> int:
        head = self.request(pod, "HEAD", path)
        assert head.status == 200, head.status
        return int(head.headers["Upload-Offset"])

    def patch(self, pod: int, path: str, offset: int, data: bytes) -> "Answer":
        return self.request(pod, "PATCH", path, OCTETS | {"Upload-Offset": str(offset)}, data)

    def multipart_upload_id(self, path: str) -> str:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(
                "SELECT multipart_upload_id FROM uploads WHERE id = %s", (upload_id(path),)
            ).fetchone()
        assert row is not None and row[0]
        return str(row[0])

    def leftovers(self, path: str, multipart_upload_id: str) -> tuple[list[str], list[str]]:
        """What the bucket holds of one upload, whatever the prefix: its multipart uploads in progress,
        and the objects naming it (S3Proxy keeps parts as objects named by its key and UploadId)."""
        client, name = self.s3.client(), upload_id(path).hex
        multipart = client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        objects = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            for item in page.get("Contents", [])
        ]
        return (
            [item["Key"] for item in multipart if name in item["Key"]],
            [key for key in objects if name in key or multipart_upload_id in key],
        )


@dataclass(frozen=True)
class Answer:
    """A process's answer, its body kept: a status that was not the one expected shows its problem."""

    status: int
    headers: http.client.HTTPMessage = dataclasses.field(repr=False)
    body: bytes


def upload_id(path: str) -> uuid.UUID:
    return uuid.UUID(path.rsplit("/", 1)[1])


upload_parts_db, upload_parts_pool = database_fixtures("upload_parts", CATALOGUE_MIGRATIONS, scope="module")


@pytest.fixture(scope="module")
def jwks() -> Iterator[ServedIdentity]:
    """identity's keys on one port for the module's processes, answered by each test's identity (all sign
    with the same key): the processes start once, not once a test."""
    server = ServedIdentity(Flask(__name__))
    yield server
    server.close()


@pytest.fixture(autouse=True)
def current_identity(jwks: ServedIdentity, served_identity: ServedIdentity) -> None:
    jwks.app = served_identity.app


@pytest.fixture(scope="module")
def pods(
    infra: Infra, upload_parts_db: str, s3: S3Server, jwks: ServedIdentity, tmp_path_factory
) -> Iterator[Pods]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("upload-parts")
    bucket = s3.new_bucket()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "CATALOGUE_DATABASE_URL": upload_parts_db,
        "CATALOGUE_DOWNLOAD_LINK_KEY": LINK_KEY.decode(),
        "CATALOGUE_STORAGE": f"s3://{bucket}/media",
        "CATALOGUE_UPLOAD_PART_BYTES": str(PART),
        "IDENTITY_JWKS_URL": jwks.jwks_url,
        **s3.env,
    }
    ports = [free_port(), free_port()]
    processes = [
        ServiceProcess(
            f"catalogue-web-{index}",
            ["catalogue", "web", "--port", str(port), "--workers", "1"],
            env | {"CATALOGUE_PUBLIC_URL": f"http://127.0.0.1:{port}",
                   "CATALOGUE_UPLOAD_ROOT": str(logs / f"uploads-{index}")},
            logs,
        ).start()
        for index, port in enumerate(ports)
    ]  # fmt: skip
    try:
        for process, port in zip(processes, ports, strict=True):
            process.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield Pods(ports, bucket, upload_parts_db, s3)
    finally:
        stop_all(processes)


def writer_locked(pods: Pods, path: str) -> bool:
    """Whether some process holds the upload's writer lock (pg_locks shows the two int4 keys as oids)."""
    namespace, key = lock_key(upload_id(path))
    with psycopg.connect(pods.database_url) as conn:
        row = conn.execute(
            """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND classid = %s::oid AND objid = %s::oid AND objsubid = 2)""",
            (namespace, key & 0xFFFFFFFF),
        ).fetchone()
    return bool(row and row[0])


def post_video(pods: Pods, pod: int, path: str) -> http.client.HTTPResponse:
    """POST /v1/videos on `pod` (the answer's body read, as `answer`)."""
    body = {"upload_url": f"http://127.0.0.1:{pods.ports[pod]}{path}",
            "title": {"en": unique_word(), "fr": unique_word()}}  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", pods.ports[pod], timeout=60)
    connection.request("POST", "/v1/videos", body=json.dumps(body),
                       headers=editor() | {"Content-Type": "application/json"})  # fmt: skip
    response = connection.getresponse()
    response.answer = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def make_video(pods: Pods, pod: int, path: str) -> bytes:
    """POST /v1/videos on `pod`; the master's bytes as the bucket holds them."""
    response = post_video(pods, pod, path)
    assert response.status == 202, response.answer  # type: ignore[attr-defined]
    video_id = json.loads(response.answer)["id"]  # type: ignore[attr-defined]
    with psycopg.connect(pods.database_url) as conn:
        row = conn.execute("SELECT master_key FROM videos WHERE id = %s", (video_id,)).fetchone()
        conn.execute("UPDATE transcode_jobs SET finished_at = now() WHERE video_id = %s", (video_id,))
    assert row is not None
    master = pods.s3.client().get_object(Bucket=pods.bucket, Key=f"media/{row[0]}")["Body"]
    return bytes(master.read())


def test_patches_of_odd_sizes_alternating_between_two_processes_make_the_exact_master(pods: Pods):
    data = os.urandom(3 * PART + 1_234_567)
    path = pods.create(len(data))
    # Smaller than a part, larger than one, crossing the part boundaries, a few bytes, the rest.
    sizes = [1000, PART + 17, PART - 1_000_000, 3]
    sizes.append(len(data) - sum(sizes))
    offset = 0
    for index, size in enumerate(sizes):
        written = pods.patch(index % 2, path, offset, data[offset : offset + size])
        offset += size
        assert (written.status, written.headers["Upload-Offset"]) == (204, str(offset))
        assert pods.offset(0, path) == pods.offset(1, path) == offset
    multipart_upload_id = pods.multipart_upload_id(path)
    master = make_video(pods, 1, path)
    assert hashlib.sha256(master).hexdigest() == hashlib.sha256(data).hexdigest()
    master_key = f"media/uploads/{upload_id(path).hex}"
    assert pods.leftovers(path, multipart_upload_id) == ([], [master_key])  # the master, nothing else


def test_a_patch_cut_mid_body_keeps_what_arrived_and_the_other_process_refuses_to_interfere(
    pods: Pods, tmp_path: Path
):
    data = os.urandom(2 * PART + 4321)
    path = pods.create(len(data))
    sent = PART + 300_000  # a whole part and a tail
    with socket.create_connection(("127.0.0.1", pods.ports[0])) as connection:
        head = (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n"
                f"Authorization: {editor()['Authorization']}\r\n\r\n")  # fmt: skip
        connection.sendall(head.encode() + data[:sent])
        # While process 0 writes (its lock taken, as PostgreSQL shows), process 1 refuses another writer.
        wait_for(lambda: writer_locked(pods, path), timeout=30, what="process 0's writer lock")
        refused = pods.patch(1, path, 0, data[:10])
        assert refused.status == 423, refused
        refused = pods.request(1, "DELETE", path)
        assert refused.status == 423, refused  # nor is it terminated under the writer
    # The client gone: once process 0 has let go, both say what arrived.
    wait_for(lambda: not writer_locked(pods, path), timeout=30, what="the end of the cut request")
    assert pods.offset(0, path) == pods.offset(1, path) == sent
    (tmp_path / "master.bin").write_bytes(data)
    resumed = tus.TusClient(f"http://127.0.0.1:{pods.ports[1]}/v1/uploads/", headers=editor()).uploader(
        str(tmp_path / "master.bin"), url=f"http://127.0.0.1:{pods.ports[1]}{path}", chunk_size=3 * 2**20
    )
    assert resumed.offset == sent  # tuspy asked (HEAD)
    resumed.upload()
    assert hashlib.sha256(make_video(pods, 0, path)).digest() == hashlib.sha256(data).digest()


def test_an_upload_whose_video_cannot_be_recorded_is_still_whole_and_made_into_a_video_again(pods: Pods):
    data = os.urandom(PART + 1000)
    path = pods.create(len(data))
    assert pods.patch(0, path, 0, data).status == 204
    multipart_upload_id = pods.multipart_upload_id(path)
    with videos_cannot_be_recorded(pods.database_url):
        assert post_video(pods, 1, path).status == 500
    # The multipart upload is completed, and its object still the upload's: resumable, submittable.
    assert pods.offset(0, path) == pods.offset(1, path) == len(data)
    assert hashlib.sha256(make_video(pods, 0, path)).digest() == hashlib.sha256(data).digest()
    assert pods.leftovers(path, multipart_upload_id) == ([], [f"media/uploads/{upload_id(path).hex}"])
    assert pods.request(1, "DELETE", path).status == 404  # a video's master now, never terminated


def test_termination_removes_the_object_a_failed_submission_completed(pods: Pods):
    path = pods.create(1000)
    assert pods.patch(0, path, 0, os.urandom(1000)).status == 204
    multipart_upload_id = pods.multipart_upload_id(path)
    with videos_cannot_be_recorded(pods.database_url):
        assert post_video(pods, 0, path).status == 500
    assert pods.leftovers(path, multipart_upload_id) == ([], [f"media/uploads/{upload_id(path).hex}"])
    assert pods.request(1, "DELETE", path).status == 204
    assert pods.leftovers(path, multipart_upload_id) == ([], [])


class DeletionFails(S3UploadArea):
    """The bucket, whose deletions fail (the store gone away at that moment)."""

    def delete(self, upload: Upload) -> None:
        raise StorageUnavailable("the store went away")


class PartsCannotBeListed(S3UploadArea):
    """The bucket, which cannot list the upload's parts: S3Proxy's filesystem store answers ListParts
    with a 500 while one of them is on its way (the file it writes it to, beside the parts, has no
    ETag yet), what process 1 met while process 0 sent its first part (a 503 where a 423 was due)."""

    def parts(self, upload: Upload) -> list[Part]:
        raise StorageUnavailable("ListParts: 500")


def on_the_pods_bucket(pods: Pods, make_catalogue, pool, area: type[S3UploadArea], **settings):  # type: ignore[no-untyped-def]
    """A catalogue on the pods' database and bucket, its upload area of class `area`."""
    storage = S3Storage(pods.bucket, "media", client=pods.s3.client())
    catalogue = make_catalogue(database_url=pods.database_url, **settings)
    uploads_area = area(storage, pg_lock(pods.database_url), PART)
    return dataclasses.replace(catalogue, pool=pool, storage=storage, uploads=uploads_area)


def failed_submission(pods: Pods) -> tuple[str, str]:
    """An upload whose submission completed its object, then failed: its path and multipart upload id."""
    path = pods.create(1000)
    assert pods.patch(0, path, 0, os.urandom(1000)).status == 204
    multipart_upload_id = pods.multipart_upload_id(path)
    with videos_cannot_be_recorded(pods.database_url):
        assert post_video(pods, 0, path).status == 500
    return path, multipart_upload_id


def test_a_termination_the_store_fails_keeps_the_upload_to_terminate_again(
    pods: Pods, make_catalogue, upload_parts_pool
):
    path, multipart_upload_id = failed_submission(pods)
    failing = on_the_pods_bucket(pods, make_catalogue, upload_parts_pool, DeletionFails)
    assert create_app(failing).test_client().delete(path, headers=editor() | TUS).status_code == 503
    assert pods.request(1, "DELETE", path).status == 204
    assert pods.leftovers(path, multipart_upload_id) == ([], [])


def test_an_expiry_the_store_fails_keeps_the_upload_to_remove_next_time(
    pods: Pods, make_catalogue, upload_parts_pool
):
    path, multipart_upload_id = failed_submission(pods)
    failing = on_the_pods_bucket(pods, make_catalogue, upload_parts_pool, DeletionFails, upload_expiry_s=0)
    with pytest.raises(StorageUnavailable):
        uploads.expire_abandoned(failing)
    working = on_the_pods_bucket(pods, make_catalogue, upload_parts_pool, S3UploadArea, upload_expiry_s=0)
    assert uploads.expire_abandoned(working) >= 1
    assert pods.leftovers(path, multipart_upload_id) == ([], [])


def test_a_patch_termination_or_submission_while_another_process_writes_is_423_whatever_the_store_says(
    pods: Pods, make_catalogue, upload_parts_pool
):
    path = pods.create(3 * PART)
    listing_fails = on_the_pods_bucket(pods, make_catalogue, upload_parts_pool, PartsCannotBeListed)
    client = create_app(listing_fails).test_client()
    headers = editor() | TUS | OCTETS | {"Upload-Offset": "0"}
    video = {"upload_url": f"{listing_fails.settings.public_url}{path}", "title": {"en": unique_word()}}
    with pg_lock(pods.database_url)(upload_id(path)):  # another process writing
        patched = client.patch(path, data=b"abc", headers=headers)
        terminated = client.delete(path, headers=editor() | TUS)
        submitted = client.post("/v1/videos", json=video, headers=editor())
    answers = (patched, terminated, submitted)
    assert [answer.status_code for answer in answers] == [423] * 3, [answer.json for answer in answers]
    # The writer gone, the store's failure is the answer (the offset cannot be read without the parts).
    assert client.patch(path, data=b"abc", headers=headers).status_code == 503
    assert pods.offset(1, path) == 0


def part_awaited(pods: Pods, path: str) -> bool:
    """Whether a request waits for the upload's part on its way (the gate's shared lock not granted)."""
    namespace, key = part_key(upload_id(path))
    with psycopg.connect(pods.database_url) as conn:
        row = conn.execute(
            """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                   AND classid = %s::oid AND objid = %s::oid AND objsubid = 2)""",
            (namespace, key & 0xFFFFFFFF),
        ).fetchone()
    return bool(row and row[0])


def test_a_head_while_another_process_sends_a_part_answers_the_offset_of_the_parts_complete(pods: Pods):
    """S3Proxy's filesystem backend fails ListParts while a part is on its way (its temporary file
    has no ETag yet): the HEAD waits for that part, as tusd's waits for the writer, and is never a 503."""
    data = os.urandom(2 * PART)
    path = pods.create(3 * PART)
    assert pods.patch(0, path, 0, data[:PART]).status == 204
    with psycopg.connect(pods.database_url) as conn:
        upload = find_upload(conn, upload_id(path))
    assert upload is not None
    with stalling_proxy(pods.s3.endpoint) as proxy, ThreadPoolExecutor(2) as threads:
        # Streamed as an https client streams a part (UNSIGNED-PAYLOAD): over http boto3 signs the
        # body's hash, which S3Proxy checks holding the whole body in memory before it writes the part.
        client = dataclasses.replace(pods.s3, endpoint=proxy.endpoint).client(signature_version="s3")
        writer_area = S3UploadArea(S3Storage(pods.bucket, "media", client=client), pg_lock(pods.database_url))

        def send_second_part() -> None:
            with writer_area.writer(upload) as writer:
                writer.write(data[PART:])

        proxy.stall_parts.set()
        sending = threads.submit(send_second_part)
        wait_for(proxy.stalled.is_set, timeout=30, what="the second part on its way, held")
        head = threads.submit(pods.request, 1, "HEAD", path)
        wait_for(
            lambda: head.done() or part_awaited(pods, path), timeout=30, what="the HEAD's answer or wait"
        )
        proxy.release.set()
        answer = head.result(timeout=60)
        sending.result(timeout=60)
    assert (answer.status, answer.headers["Upload-Offset"]) == (200, str(2 * PART)), answer
    assert pods.offset(0, path) == 2 * PART
    assert pods.request(0, "DELETE", path).status == 204


def test_a_long_upload_is_cut_in_parts_large_enough_for_s3s_ten_thousand(pods: Pods):
    length = 100 * 1024**3  # in 5 MiB parts (the pods' setting), 20,480 parts: S3 refuses part 10,001
    path = pods.create(length)
    with psycopg.connect(pods.database_url) as conn:
        row = conn.execute("SELECT part_bytes FROM uploads WHERE id = %s", (upload_id(path),)).fetchone()
    assert row == (11 * 2**20,)  # 100 GiB / 10,000 rounded up to a MiB
    data = os.urandom(11 * 2**20 + 5)
    assert pods.patch(1, path, 0, data).status == 204
    listed = pods.s3.client().list_parts(
        Bucket=pods.bucket,
        Key=f"media/uploads/{upload_id(path).hex}",
        UploadId=pods.multipart_upload_id(path),
    )
    assert [part["Size"] for part in listed["Parts"]] == [11 * 2**20]
    assert pods.offset(0, path) == len(data)
    assert pods.request(0, "DELETE", path).status == 204


def test_termination_leaves_no_multipart_upload_and_no_tail(pods: Pods):
    path = pods.create(3 * PART)
    assert pods.patch(0, path, 0, os.urandom(PART + 1000)).status == 204  # a part and a tail
    multipart_upload_id = pods.multipart_upload_id(path)
    multipart, objects = pods.leftovers(path, multipart_upload_id)
    assert len(multipart) == 1 and f"media/upload-tails/{upload_id(path).hex}" in objects
    assert pods.request(1, "DELETE", path).status == 204
    assert pods.request(0, "HEAD", path).status == 404
    assert pods.leftovers(path, multipart_upload_id) == ([], [])


def test_expiry_leaves_no_multipart_upload_and_no_tail(pods: Pods, make_catalogue, upload_parts_pool):  # type: ignore[no-untyped-def]
    path = pods.create(3 * PART)
    assert pods.patch(1, path, 0, os.urandom(PART + 1000)).status == 204
    multipart_upload_id = pods.multipart_upload_id(path)
    assert pods.leftovers(path, multipart_upload_id)[0]
    # And a tail a crash left without its upload's row. (A multipart upload without a row is aborted
    # by its age, ListMultipartUploads' Initiated, which S3Proxy's filesystem backend reports as the
    # time of the listing: the unit tests cover that sweep.)
    client = pods.s3.client()
    stray = f"media/upload-tails/{uuid.uuid4().hex}"
    client.put_object(Bucket=pods.bucket, Key=stray, Body=b"tail")
    storage = S3Storage(pods.bucket, "media", client=client)
    base = make_catalogue(database_url=pods.database_url, upload_expiry_s=0)
    catalogue = dataclasses.replace(
        base,
        pool=upload_parts_pool,
        storage=storage,
        uploads=S3UploadArea(storage, pg_lock(pods.database_url), PART),
    )
    removed = uploads.expire_abandoned(catalogue)
    assert removed >= 2  # the upload's row, the stray tail
    assert pods.request(0, "HEAD", path).status == 404
    assert pods.leftovers(path, multipart_upload_id) == ([], [])
    assert not client.list_objects_v2(Bucket=pods.bucket, Prefix=stray).get("Contents")


def test_a_store_that_does_not_answer_is_503_not_500(pods: Pods, make_catalogue, upload_parts_pool):  # type: ignore[no-untyped-def]
    path = pods.create(3 * PART)
    # The same bucket through an address where nothing listens (the store down), retries off.
    once = s3_config().merge(Config(retries={"total_max_attempts": 1}))
    unreachable = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="y", config=once)  # fmt: skip
    storage = S3Storage(pods.bucket, "media", client=unreachable)
    base = make_catalogue(database_url=pods.database_url)
    down = dataclasses.replace(
        base,
        pool=upload_parts_pool,
        storage=storage,
        uploads=S3UploadArea(storage, pg_lock(pods.database_url), PART),
    )
    client = create_app(down).test_client()
    answers = [
        client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": "10"}),
        client.head(path, headers=editor() | TUS),
        client.patch(path, data=b"abc", headers=editor() | TUS | OCTETS | {"Upload-Offset": "0"}),
        client.delete(path, headers=editor() | TUS),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.data
    assert answers[0].json["type"].endswith("storage-unavailable")
    assert pods.offset(1, path) == 0  # the upload itself is untouched


def test_the_writer_lock_is_free_the_moment_its_request_is_done(pods: Pods):
    """A client's next PATCH follows the answer at once: the lock must be gone by then, not only once
    the lock's server process has ended after the connection closed (7 % of the time, measured)."""
    lock = pg_lock(pods.database_url)
    still_held = 0
    with psycopg.connect(pods.database_url, autocommit=True) as next_writer:
        for _ in range(100):
            upload = uuid.uuid4()
            with lock(upload):
                pass
            key = lock_key(upload)
            taken = next_writer.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", key).fetchone()
            if taken and taken[0]:
                next_writer.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", key)
            else:
                still_held += 1
    assert still_held == 0
