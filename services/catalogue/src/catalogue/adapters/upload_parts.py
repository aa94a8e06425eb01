"""Where tus uploads collect their bytes when the catalogue's files are in a bucket
(`CATALOGUE_STORAGE=s3://…`): one S3 multipart upload per tus upload, at `uploads/<id>` under the
storage's prefix. Any web process serves any request of an upload: nothing is on its disk.

- The multipart UploadId is in the upload's row (`multipart_upload_id`).
- The offset is what is durable in the bucket: the parts (ListParts) plus the tail object
  (`upload-tails/<id>`), what a request received after its last whole part. The next request puts the
  tail at the front of its first part, then deletes it. The tail names the part it will open, so a tail
  already in a part (a crash before its deletion) is recognised and not counted twice.
- A request buffers at most one part (≥ 5 MiB: S3's minimum for all parts but the last). The part size
  is chosen when the upload is created and kept on its row: `part_bytes`, or more for an upload that
  would need more than S3's 10,000 parts (rounded up to a MiB).
- Writers are locked against each other across processes by a PostgreSQL advisory lock, and readers
  of the parts wait for a part on its way (`upload_locks.pg_lock`).
- The finished multipart upload, completed, is the video's master: no byte is copied. Completed, it is
  still the upload's (its offset is the object's size) until the video is recorded: a submission that
  failed after completing it is made again with the same object.
"""

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from catalogue.adapters.storage import S3Storage, Storage, StorageUnavailable
from catalogue.adapters.upload_area import CHUNK_BYTES
from catalogue.adapters.upload_locks import Lock, Sending
from catalogue.adapters.upload_store import Upload

PART_BYTES = 8 * 1024 * 1024
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000  # S3's limit per multipart upload
PART_ROUNDING = 1024 * 1024
TAIL_PART = "part"  # the tail's metadata: the number of the part its bytes will open
GONE = ("NoSuchUpload", "NoSuchKey", "404", "NotFound")


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str


@dataclass(frozen=True)
class Durable:
    """What the bucket holds of an upload: its parts in order, and the tail's size (0: none counted)."""

    parts: list[Part]
    tail: int

    @property
    def offset(self) -> int:
        return sum(part.size for part in self.parts) + self.tail

    @property
    def next_part(self) -> int:
        return self.parts[-1].number + 1 if self.parts else 1


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """An upload gone from the bucket is FileNotFoundError; any other failure of the store, a 503."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE:
            raise FileNotFoundError(what) from None
        raise StorageUnavailable(f"{what}: {error}") from error
    except BotoCoreError as error:
        raise StorageUnavailable(f"{what}: {error}") from error


class S3UploadArea:
    """Upload bytes as S3 multipart uploads in the catalogue's own bucket (see the module's docstring)."""

    def __init__(self, storage: S3Storage, lock: Lock, part_bytes: int = PART_BYTES) -> None:
        self.storage, self.client, self.bucket = storage, storage.client, storage.bucket
        self.lock, self.part_bytes = lock, part_bytes

    def key(self, upload_id: UUID) -> str:
        """The storage key of the upload's object (the master, once completed)."""
        return f"uploads/{upload_id.hex}"

    def object_key(self, upload_id: UUID) -> str:
        return self.storage.object_key(self.key(upload_id))

    def tail_key(self, upload_id: UUID) -> str:
        # Apart from uploads/, where completed uploads stay as masters: the sweep lists tails alone.
        return self.storage.object_key(f"upload-tails/{upload_id.hex}")

    def create(self, upload_id: UUID) -> str:
        with s3_errors(self.object_key(upload_id)):
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.object_key(upload_id))
        return str(answer["UploadId"])

    def part_size(self, length: int) -> int:
        """`part_bytes`, or the smallest whole number of MiB that sends `length` bytes in MAX_PARTS parts."""
        needed = -(-length // MAX_PARTS)
        return max(self.part_bytes, -(-needed // PART_ROUNDING) * PART_ROUNDING)

    def offset(self, upload: Upload) -> int:
        try:
            with self.lock.reading(upload.id):
                durable: Durable | None = self.durable(upload)
        except FileNotFoundError:
            durable = None
        if durable is None or not durable.parts:
            completed = self._completed_size(upload.id)
            if completed is not None:
                return completed
        if durable is None:
            raise FileNotFoundError(str(upload.id))
        return durable.offset

    def durable(self, upload: Upload) -> Durable:
        parts = self.parts(upload)
        tail = self._tail(upload.id)
        if tail is None or (parts and tail[1] <= parts[-1].number):  # none, or already in a part
            return Durable(parts, 0)
        return Durable(parts, tail[0])

    def parts(self, upload: Upload) -> list[Part]:
        """The upload's parts in order (ListParts, page after page); FileNotFoundError when it is gone."""
        if upload.multipart_upload_id is None:
            raise FileNotFoundError(str(upload.id))
        key = self.object_key(upload.id)
        listed = self._listed(
            self.client.list_parts, "Parts", {"NextPartNumberMarker": "PartNumberMarker"},
            Key=key, UploadId=upload.multipart_upload_id,
        )  # fmt: skip
        parts = [Part(item["PartNumber"], item["Size"], item["ETag"]) for item in listed]
        return sorted(parts, key=lambda part: part.number)

    @contextmanager
    def writer(self, upload: Upload) -> Iterator["PartWriter"]:
        with self.lock(upload.id) as sending:
            try:
                durable = self.durable(upload)
            except FileNotFoundError:  # or completed (S3 forgets its parts): whole, it takes no more bytes
                if self._completed_size(upload.id) is None:
                    raise
                durable = Durable([], 0)
            writer = PartWriter(self, upload, durable, sending)
            try:
                yield writer
                writer.finish()  # only when the request ended well: a client gone is a normal end
            finally:
                writer.close()

    @contextmanager
    def locked(self, upload: Upload) -> Iterator[None]:
        with self.lock(upload.id):
            yield

    def store_master(self, upload: Upload, storage: Storage, key: str) -> str:
        """Complete the multipart upload: its object, in the catalogue's own bucket (`storage`, which
        bootstrap built this area on), is the master as it is; its key (not `key`). Already completed
        (by a submission whose video could not be recorded), it is the master all the same."""
        try:
            parts: list[Part] | None = self.parts(upload)
        except FileNotFoundError:
            parts = None
        if not parts and self._completed_size(upload.id) is not None:
            return self.key(upload.id)
        if parts is None:
            raise FileNotFoundError(str(upload.id))
        object_key = self.object_key(upload.id)
        with s3_errors(object_key):
            if parts:
                listed = [{"PartNumber": part.number, "ETag": part.etag} for part in parts]
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=upload.multipart_upload_id,
                    MultipartUpload={"Parts": listed},
                )  # fmt: skip
            else:  # an empty upload: S3 completes none without parts
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=upload.multipart_upload_id
                )
                self.client.put_object(Bucket=self.bucket, Key=object_key, Body=b"")
        self.delete_tail(upload.id)
        return self.key(upload.id)

    def undo_master(self, storage: Storage, key: str) -> None:
        """Nothing: the completed object stays the upload's bytes (see `offset`)."""

    def delete_source(self, upload_id: UUID) -> None:
        """Nothing: `store_master` left nothing but the master."""

    def delete(self, upload: Upload) -> None:
        """Abort the upload's multipart upload (its row's: no listing of the bucket's, which one upload
        S3Proxy cannot list fails), delete its tail, and the object a failed submission completed (only
        called for an upload no video was made of)."""
        object_key = self.object_key(upload.id)
        if upload.multipart_upload_id is not None:
            self._abort(object_key, upload.multipart_upload_id)
        self.delete_tail(upload.id)
        with s3_errors(object_key):
            self.client.delete_object(Bucket=self.bucket, Key=object_key)

    def remove_untouched(self, max_age_s: float, now: float | None = None) -> int:
        """Abort the multipart uploads begun longer than `max_age_s` ago and delete tails as old (a
        crash may have left them without a row); how many went. In production, lifecycle rules
        (AbortIncompleteMultipartUpload on uploads/, expiration on upload-tails/) do the same."""
        limit = (time.time() if now is None else now) - max_age_s
        removed = 0
        for found in self.multipart_uploads(self.storage.object_key("uploads") + "/"):
            if found["Initiated"].timestamp() < limit:
                removed += self._abort(found["Key"], found["UploadId"])
        for item in self._objects(self.storage.object_key("upload-tails") + "/"):
            if item["LastModified"].timestamp() < limit:
                with s3_errors(item["Key"]):
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                removed += 1
        return removed

    def multipart_uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        """The multipart uploads in progress under `prefix` (ListMultipartUploads, page after page)."""
        markers = {"NextKeyMarker": "KeyMarker", "NextUploadIdMarker": "UploadIdMarker"}
        return self._listed(self.client.list_multipart_uploads, "Uploads", markers, Prefix=prefix)

    def read_tail(self, upload_id: UUID, into: Any) -> None:
        with s3_errors(self.tail_key(upload_id)):
            body = self.client.get_object(Bucket=self.bucket, Key=self.tail_key(upload_id))["Body"]
            shutil.copyfileobj(body, into, CHUNK_BYTES)

    def put_tail(self, upload_id: UUID, data: bytes, opens: int) -> None:
        """Replace the tail (one PUT: readers see the old one or the new one, which starts with it)."""
        with s3_errors(self.tail_key(upload_id)):
            self.client.put_object(
                Bucket=self.bucket, Key=self.tail_key(upload_id), Body=data, Metadata={TAIL_PART: str(opens)}
            )

    def delete_tail(self, upload_id: UUID) -> None:
        with s3_errors(self.tail_key(upload_id)):
            self.client.delete_object(Bucket=self.bucket, Key=self.tail_key(upload_id))

    def upload_part(self, upload: Upload, number: int, data: bytes) -> None:
        with s3_errors(self.object_key(upload.id)):
            self.client.upload_part(
                Bucket=self.bucket, Key=self.object_key(upload.id), UploadId=upload.multipart_upload_id,
                PartNumber=number, Body=data,
            )  # fmt: skip

    def _completed_size(self, upload_id: UUID) -> int | None:
        """The size of the upload's completed object, or None when there is none. Asked only when no part
        is listed: S3 forgets a completed upload's parts (NoSuchUpload), S3Proxy lists none."""
        head = self._head(self.object_key(upload_id))
        return None if head is None else int(head["ContentLength"])

    def _tail(self, upload_id: UUID) -> tuple[int, int] | None:
        """The tail's size and the part it will open, or None."""
        if (head := self._head(self.tail_key(upload_id))) is None:
            return None
        return int(head["ContentLength"]), int(head.get("Metadata", {}).get(TAIL_PART, "0"))

    def _head(self, object_key: str) -> dict[str, Any] | None:
        try:
            with s3_errors(object_key):
                return dict(self.client.head_object(Bucket=self.bucket, Key=object_key))
        except FileNotFoundError:
            return None

    def _abort(self, object_key: str, multipart_upload_id: str) -> int:
        try:
            with s3_errors(object_key):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=multipart_upload_id
                )
        except FileNotFoundError:
            return 0  # aborted meanwhile (by another sweep)
        return 1

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        markers = {"NextContinuationToken": "ContinuationToken"}
        return self._listed(self.client.list_objects_v2, "Contents", markers, Prefix=prefix)

    def _listed(
        self, operation: Callable[..., dict[str, Any]], items: str, markers: dict[str, str], **request: Any
    ) -> Iterator[dict[str, Any]]:
        """Every item of an S3 listing, page after page: `markers` names, for each marker of a truncated
        answer, the request parameter that asks for the next page."""
        where = str(request.get("Key") or request.get("Prefix"))
        while True:
            with s3_errors(where):
                page = operation(Bucket=self.bucket, **request)
            yield from page.get(items, [])
            if not page.get("IsTruncated"):
                return
            request |= {parameter: page[marker] for marker, parameter in markers.items()}


class PartWriter:
    """What one request appends: buffered (a spooled temporary file) and sent as a part whenever a whole
    one is there. At the end what is left becomes the final part (the upload complete) or the tail."""

    def __init__(self, area: S3UploadArea, upload: Upload, durable: Durable, sending: Sending) -> None:
        self.area, self.upload, self.sending = area, upload, sending
        self.sent = durable.offset - durable.tail  # bytes in parts
        self.next_part = durable.next_part
        self.tail_pending = durable.tail > 0  # the tail's bytes are in the buffer, not in a part yet
        self.received = 0
        self.part_bytes = upload.part_bytes or area.part_bytes
        self.buffer = tempfile.SpooledTemporaryFile(max_size=self.part_bytes + CHUNK_BYTES)
        if self.tail_pending:
            area.read_tail(upload.id, self.buffer)

    def write(self, data: bytes, /) -> int:
        self.buffer.write(data)
        self.received += len(data)
        while self.buffer.tell() >= self.part_bytes:
            self._send_part(self.part_bytes)
        return len(data)

    def flush(self) -> None:
        """Nothing: bytes become durable a part at a time, and the rest as the tail when the request ends."""

    def finish(self) -> None:
        left = self.buffer.tell()
        if not self.received or not left:
            return
        if self.sent + left >= self.upload.length:
            self._send_part(left)  # the last part may be smaller than S3's minimum
        else:
            self.buffer.seek(0)
            self.area.put_tail(self.upload.id, self.buffer.read(left), self.next_part)

    def close(self) -> None:
        self.buffer.close()

    def _send_part(self, size: int) -> None:
        self.buffer.seek(0)
        data = self.buffer.read(size)
        rest = self.buffer.read()
        with self.sending():  # readers of the parts wait for this one, and the tail it replaces
            self.area.upload_part(self.upload, self.next_part, data)
            if self.tail_pending:  # its bytes are in that part now
                self.area.delete_tail(self.upload.id)
                self.tail_pending = False
        self.buffer.seek(0)
        self.buffer.truncate()
        self.buffer.write(rest)
        self.next_part += 1
        self.sent += size
