"""The bucket's upload area against an in-memory S3 that keeps S3's rules (parts of at least 5 MiB but the
last, NoSuchUpload, paginated listings): requests of odd sizes cut into whole parts and a tail, the offset
any process sees, a request cut short, a crash between a part and the tail's deletion, the sweep."""

import hashlib
import io
import itertools
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from catalogue.adapters import upload_parts
from catalogue.adapters.storage import S3Storage, StorageUnavailable
from catalogue.adapters.upload_area import CHUNK_BYTES, UploadBusy, append
from catalogue.adapters.upload_parts import MIN_PART_BYTES, S3UploadArea
from catalogue.adapters.upload_store import Upload

PART = MIN_PART_BYTES
PAGE = 2  # the fake lists two items a page, so every listing is paginated


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "fake")


class FakeS3:
    """The calls S3UploadArea makes, with S3's answers."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str], datetime]] = {}
        self.multipart: dict[str, dict[str, Any]] = {}  # UploadId → {key, initiated, parts}
        self.failing: set[str] = set()  # operations that fail like a store down
        self.ids = itertools.count(1)

    def _check(self, operation: str) -> None:
        if operation in self.failing:
            raise error("ServiceUnavailable")

    def _upload(self, key: str, upload_id: str) -> dict[str, Any]:
        found = self.multipart.get(upload_id)
        if found is None or found["key"] != key:
            raise error("NoSuchUpload")
        return found

    def create_multipart_upload(self, Bucket: str, Key: str) -> dict[str, Any]:
        upload_id = f"mpu-{next(self.ids)}"
        self.multipart[upload_id] = {"key": Key, "initiated": datetime.now(UTC), "parts": {}}
        return {"UploadId": upload_id}

    def upload_part(
        self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes
    ) -> dict[str, Any]:
        self._check("upload_part")
        if not 1 <= PartNumber <= upload_parts.MAX_PARTS:
            raise error("InvalidArgument")  # S3: a part number is between 1 and 10,000
        etag = f'"{hashlib.md5(Body).hexdigest()}"'  # noqa: S324 (S3's ETag)
        self._upload(Key, UploadId)["parts"][PartNumber] = (Body, etag)
        return {"ETag": etag}

    def list_parts(self, Bucket: str, Key: str, UploadId: str, PartNumberMarker: int = 0) -> dict[str, Any]:
        parts = self._upload(Key, UploadId)["parts"]
        numbers = sorted(number for number in parts if number > PartNumberMarker)
        page = [{"PartNumber": n, "Size": len(parts[n][0]), "ETag": parts[n][1]} for n in numbers[:PAGE]]
        truncated = len(numbers) > PAGE
        return {
            "Parts": page,
            "IsTruncated": truncated,
            **({"NextPartNumberMarker": numbers[PAGE - 1]} if truncated else {}),
        }

    def complete_multipart_upload(self, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict) -> None:  # type: ignore[type-arg]
        parts = self._upload(Key, UploadId)["parts"]
        listed = MultipartUpload["Parts"]
        assert [item["PartNumber"] for item in listed] == sorted(parts)
        for item in listed[:-1]:
            if len(parts[item["PartNumber"]][0]) < MIN_PART_BYTES:
                raise error("EntityTooSmall")
        data = b"".join(parts[item["PartNumber"]][0] for item in listed)
        self.objects[Key] = (data, {}, datetime.now(UTC))
        del self.multipart[UploadId]

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str) -> None:
        self._upload(Key, UploadId)
        del self.multipart[UploadId]

    def list_multipart_uploads(
        self, Bucket: str, Prefix: str, KeyMarker: str = "", UploadIdMarker: str = ""
    ) -> dict[str, Any]:
        found = sorted(
            (item["key"], upload_id, item["initiated"])
            for upload_id, item in self.multipart.items()
            if item["key"].startswith(Prefix) and (item["key"], upload_id) > (KeyMarker, UploadIdMarker)
        )
        page = [{"Key": key, "UploadId": upload_id, "Initiated": at} for key, upload_id, at in found[:PAGE]]
        if len(found) <= PAGE:
            return {"Uploads": page, "IsTruncated": False}
        return {"Uploads": page, "IsTruncated": True, "NextKeyMarker": found[PAGE - 1][0],
                "NextUploadIdMarker": found[PAGE - 1][1]}  # fmt: skip

    def put_object(self, Bucket: str, Key: str, Body: bytes, Metadata: dict[str, str] | None = None) -> None:
        self._check("put_object")
        self.objects[Key] = (bytes(Body), dict(Metadata or {}), datetime.now(UTC))

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise error("404")
        data, metadata, _ = self.objects[Key]
        return {"ContentLength": len(data), "Metadata": metadata}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise error("NoSuchKey")
        return {"Body": io.BytesIO(self.objects[Key][0])}

    def delete_object(self, Bucket: str, Key: str) -> None:
        self._check("delete_object")
        self.objects.pop(Key, None)

    def list_objects_v2(self, Bucket: str, Prefix: str, ContinuationToken: str = "") -> dict[str, Any]:
        keys = sorted(key for key in self.objects if key.startswith(Prefix) and key > ContinuationToken)
        page = [{"Key": key, "Size": len(self.objects[key][0]), "LastModified": self.objects[key][2]}
                for key in keys[:PAGE]]  # fmt: skip
        if len(keys) <= PAGE:
            return {"Contents": page, "IsTruncated": False}
        return {"Contents": page, "IsTruncated": True, "NextContinuationToken": keys[PAGE - 1]}


class Locks:
    """One lock per upload shared by the areas of a test, as PostgreSQL's is by every process, and one
    gate between the parts sent and their readers (a mutex: readers wait for each other too, here)."""

    def __init__(self) -> None:
        self.held: set[uuid.UUID] = set()
        self.mutex = threading.Lock()
        self.gate = threading.Lock()

    @contextmanager
    def __call__(self, upload_id: uuid.UUID) -> Iterator[Callable[[], Any]]:
        with self.mutex:
            if upload_id in self.held:
                raise UploadBusy(str(upload_id))
            self.held.add(upload_id)
        try:
            yield lambda: self.gate
        finally:
            self.held.discard(upload_id)

    def reading(self, upload_id: uuid.UUID) -> threading.Lock:
        return self.gate


@pytest.fixture
def s3() -> FakeS3:
    return FakeS3()


@pytest.fixture
def locks() -> Locks:
    return Locks()


def area(s3: FakeS3, locks: Locks) -> S3UploadArea:
    """An area as one web process has it: nothing shared with the others but the store and the locks."""
    return S3UploadArea(S3Storage("media", "videos", client=s3), locks, part_bytes=PART)


def new_upload(pod: S3UploadArea, length: int) -> Upload:
    upload_id = uuid.uuid4()
    return Upload(upload_id, uuid.uuid4(), length, "", multipart_upload_id=pod.create(upload_id),
                  part_bytes=pod.part_size(length))  # fmt: skip


def patch(pod: S3UploadArea, upload: Upload, data: bytes) -> int:
    """A PATCH's body appended as the service layer does; how many bytes it took."""
    body = io.BytesIO(data)
    with pod.writer(upload) as writer:
        return append(writer, body.read, upload.length - pod.offset(upload))


def test_patches_of_odd_sizes_through_two_processes_become_whole_parts_and_the_exact_master(s3, locks):
    pods = [area(s3, locks), area(s3, locks)]
    data = os.urandom(4 * PART + 1_234_567)
    upload = new_upload(pods[0], len(data))
    sizes = [1000, PART + 17, PART - 1, 3, PART + 2_000_000]  # smaller, larger, crossing the boundaries
    sizes.append(len(data) - sum(sizes))
    offset = 0
    for index, size in enumerate(sizes):
        assert patch(pods[index % 2], upload, data[offset : offset + size]) == size
        offset += size
        assert pods[0].offset(upload) == pods[1].offset(upload) == offset
    parts = pods[1].parts(upload)
    assert [part.size for part in parts] == [PART, PART, PART, PART, 1_234_567]
    key = pods[0].store_master(upload, pods[0].storage, "videos/x/master")
    assert key == f"uploads/{upload.id.hex}"
    assert s3.objects[f"videos/{key}"][0] == data
    assert not s3.multipart and list(s3.objects) == [f"videos/{key}"]  # no tail left


def test_what_a_request_leaves_after_its_last_whole_part_is_the_tail_until_the_next_one(s3, locks):
    pod = area(s3, locks)
    data = os.urandom(2 * PART)
    upload = new_upload(pod, len(data))
    patch(pod, upload, data[:300])
    tail = s3.objects[pod.tail_key(upload.id)]
    assert (tail[0], tail[1]) == (data[:300], {"part": "1"})
    assert (pod.offset(upload), pod.parts(upload)) == (300, [])
    patch(pod, upload, data[300 : PART + 5])  # the tail opens part 1
    assert [part.size for part in pod.parts(upload)] == [PART]
    assert s3.objects[pod.tail_key(upload.id)][0] == data[PART : PART + 5]
    assert pod.offset(upload) == PART + 5


def test_a_request_cut_short_keeps_what_arrived(s3, locks):
    pod = area(s3, locks)
    data = os.urandom(PART + 10)
    upload = new_upload(pod, len(data))
    sent = io.BytesIO(data[:700_000])  # the client goes away: the body ends early
    with pod.writer(upload) as writer:
        assert append(writer, sent.read, len(data)) == 700_000
    assert area(s3, locks).offset(upload) == 700_000
    patch(pod, upload, data[700_000:])
    pod.store_master(upload, pod.storage, "unused")
    assert s3.objects[pod.object_key(upload.id)][0] == data


def test_a_tail_already_in_a_part_is_not_counted_twice(s3, locks):
    # A crash between the part holding the tail and the tail's deletion leaves both in the bucket.
    pod = area(s3, locks)
    data = os.urandom(PART + 100)
    upload = new_upload(pod, len(data))
    patch(pod, upload, data[:100])
    s3.failing.add("delete_object")
    with pytest.raises(StorageUnavailable):
        patch(pod, upload, data[100 : PART + 50])
    s3.failing.clear()
    assert pod.tail_key(upload.id) in s3.objects and [part.size for part in pod.parts(upload)] == [PART]
    assert pod.offset(upload) == PART
    patch(pod, upload, data[PART:])
    pod.store_master(upload, pod.storage, "unused")
    assert s3.objects[pod.object_key(upload.id)][0] == data


def test_a_store_failing_mid_request_leaves_the_durable_offset(s3, locks):
    pod = area(s3, locks)
    data = os.urandom(3 * PART)
    upload = new_upload(pod, len(data))
    patch(pod, upload, data[: PART + 10])
    s3.failing.add("upload_part")
    with pytest.raises(StorageUnavailable):
        patch(pod, upload, data[PART + 10 :])
    s3.failing.clear()
    assert pod.offset(upload) == PART + 10  # the client resumes there (HEAD)


def test_a_second_writer_is_refused_while_the_first_writes(s3, locks):
    pods = [area(s3, locks), area(s3, locks)]
    upload = new_upload(pods[0], 10)
    with pods[0].writer(upload):
        with pytest.raises(UploadBusy):
            with pods[1].writer(upload):
                pass
    patch(pods[1], upload, b"0123456789")
    assert pods[0].offset(upload) == 10


def test_an_empty_upload_becomes_an_empty_master(s3, locks):
    pod = area(s3, locks)
    upload = new_upload(pod, 0)
    assert pod.offset(upload) == 0
    key = pod.store_master(upload, pod.storage, "unused")
    assert s3.objects[pod.storage.object_key(key)][0] == b"" and not s3.multipart


def test_a_completed_upload_stays_the_uploads_until_its_video_is_recorded(s3, locks):
    pod = area(s3, locks)
    upload = new_upload(pod, 4)
    patch(pod, upload, b"data")
    key = pod.store_master(upload, pod.storage, "unused")
    # The video could not be recorded (its transaction failed): the upload is whole and submitted again.
    pod.undo_master(pod.storage, key)
    assert pod.offset(upload) == 4
    assert pod.store_master(upload, pod.storage, "unused") == key
    assert s3.objects[pod.object_key(upload.id)][0] == b"data"
    with pytest.raises(FileNotFoundError):
        pod.offset(Upload(uuid.uuid4(), uuid.uuid4(), 4, ""))  # a row without a multipart upload
    terminated = new_upload(pod, 0)
    pod.delete(terminated)
    with pytest.raises(FileNotFoundError):
        pod.store_master(terminated, pod.storage, "unused")


def test_a_completed_upload_is_written_to_as_whole_not_as_gone(s3, locks):
    # A submission completed it, then failed: S3 forgets its parts (NoSuchUpload), its object is its
    # bytes. A PATCH there finds no room (413, or 204 with an empty body), as HEAD says, never a 404.
    pod = area(s3, locks)
    upload = new_upload(pod, 4)
    patch(pod, upload, b"data")
    pod.store_master(upload, pod.storage, "unused")
    with pod.writer(upload) as writer:
        assert pod.offset(upload) == 4
        assert append(writer, io.BytesIO(b"more").read, 0) == 0
    assert s3.objects[pod.object_key(upload.id)][0] == b"data" and not s3.multipart
    assert pod.tail_key(upload.id) not in s3.objects


def test_delete_removes_every_byte_of_an_upload_no_video_was_made_of(s3, locks):
    pod = area(s3, locks)
    kept, completed, dropped = new_upload(pod, 4), new_upload(pod, 4), new_upload(pod, PART + 3)
    patch(pod, kept, b"done")
    pod.store_master(kept, pod.storage, "unused")
    pod.delete_source(kept.id)  # its video was recorded: the master stays
    patch(pod, completed, b"half")
    pod.store_master(completed, pod.storage, "unused")  # and then its video could not be recorded
    patch(pod, dropped, os.urandom(PART + 1))
    for upload in (completed, dropped):
        pod.delete(upload)
    assert not s3.multipart and list(s3.objects) == [pod.object_key(kept.id)]


def test_the_sweep_aborts_old_multipart_uploads_and_tails_only(s3, locks):
    pod = area(s3, locks)
    uploads = [new_upload(pod, 10) for _ in range(5)]
    for upload in uploads:
        patch(pod, upload, b"abc")
    old = uploads[:3]
    day_ago = datetime.now(UTC) - timedelta(days=1, seconds=5)
    for item in s3.multipart.values():
        if any(item["key"] == pod.object_key(upload.id) for upload in old):
            item["initiated"] = day_ago
    for upload in old:
        data, metadata, _ = s3.objects[pod.tail_key(upload.id)]
        s3.objects[pod.tail_key(upload.id)] = (data, metadata, day_ago)
    assert pod.remove_untouched(24 * 3600) == 6
    assert sorted(item["key"] for item in s3.multipart.values()) == sorted(
        pod.object_key(upload.id) for upload in uploads[3:]
    )
    assert sorted(s3.objects) == sorted(pod.tail_key(upload.id) for upload in uploads[3:])


def test_a_request_of_many_parts_buffers_one_part_at_most(s3, locks):
    pod = area(s3, locks)
    data = os.urandom(3 * PART + PART // 2)
    upload = new_upload(pod, len(data))
    body, buffered = io.BytesIO(data), []
    with pod.writer(upload) as writer:
        write = writer.write

        def measured(chunk: bytes) -> int:
            written = write(chunk)
            buffered.append(writer.buffer.tell())
            return written

        writer.write = measured  # type: ignore[method-assign]
        append(writer, body.read, len(data))
    assert len(buffered) > 3 * PART // CHUNK_BYTES and max(buffered) < PART
    assert [part.size for part in pod.parts(upload)] == [PART, PART, PART, PART // 2]


MIB = 1024 * 1024


def test_an_upload_too_long_for_s3s_parts_of_the_setting_gets_larger_ones():
    pod = S3UploadArea(S3Storage("media", "", client=FakeS3()), Locks(), part_bytes=8 * MIB)
    assert pod.part_size(0) == pod.part_size(10_000 * 8 * MIB) == 8 * MIB
    assert pod.part_size(10_000 * 8 * MIB + 1) == 9 * MIB  # a whole number of MiB
    for length in (200 * 1024**3, 5 * 1024**4 - 1):
        size = pod.part_size(length)
        assert size % MIB == 0 and -(-length // size) <= upload_parts.MAX_PARTS


def test_an_upload_longer_than_max_parts_of_the_setting_is_sent_whole(s3, locks, monkeypatch):
    monkeypatch.setattr(upload_parts, "MAX_PARTS", 3)  # S3's 10,000, scaled down
    pods = [area(s3, locks), area(s3, locks)]
    data = os.urandom(4 * PART + 1000)  # four parts of the setting's size: one too many
    upload = new_upload(pods[0], len(data))
    assert upload.part_bytes == 7 * MIB
    half = len(data) // 2
    assert patch(pods[0], upload, data[:half]) == half
    assert patch(pods[1], upload, data[half:]) == len(data) - half  # the other process cuts alike
    assert [part.size for part in pods[1].parts(upload)] == [7 * MIB, 7 * MIB, len(data) - 14 * MIB]
    key = pods[0].store_master(upload, pods[0].storage, "unused")
    assert s3.objects[pods[0].storage.object_key(key)][0] == data
