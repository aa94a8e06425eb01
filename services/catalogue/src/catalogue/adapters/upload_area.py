"""Where tus uploads collect their bytes before they become a video's master. `UploadArea` is a folder
(the folder storage): one file per upload, whose size is the upload's offset, so what reached the disk
before a crash counts. With a bucket, `catalogue.adapters.upload_parts.S3UploadArea` keeps them as S3
multipart uploads instead, behind the same `UploadBytes` protocol."""

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol
from uuid import UUID

from catalogue.adapters.disk import FULL_ERRNOS, full_is_refused
from catalogue.adapters.storage import Storage
from catalogue.adapters.upload_store import Upload

CHUNK_BYTES = 1024 * 1024


class UploadBusy(Exception):
    """Another request is writing to this upload right now."""


class Appender(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class UploadBytes(Protocol):
    """Where an upload's bytes wait (see the module's docstring)."""

    def create(self, upload_id: UUID) -> str | None:
        """Make room for a new upload; what its row keeps to find the bytes again (or None)."""
        ...

    def part_size(self, length: int) -> int | None:
        """The size of the parts an upload of `length` bytes is kept in (None: not in parts)."""
        ...

    def offset(self, upload: Upload) -> int:
        """Bytes received and kept so far; FileNotFoundError when the upload is gone."""
        ...

    def writer(self, upload: Upload) -> AbstractContextManager[Appender]:
        """Where a request appends, locked against other writers (UploadBusy) while the context lasts."""
        ...

    def locked(self, upload: Upload) -> AbstractContextManager[None]:
        """The writers' lock alone (UploadBusy when taken): nothing writes while the context lasts."""
        ...

    def store_master(self, upload: Upload, storage: Storage, key: str) -> str:
        """Make the finished upload's bytes a file of `storage`, and say under which key. Until
        `delete_source`, the upload keeps its bytes (and its offset): `undo_master` takes it back."""
        ...

    def undo_master(self, storage: Storage, key: str) -> None:
        """The video could not be recorded: remove what `store_master` made that the upload does not
        still need (its bytes stay the upload's, to submit again)."""
        ...

    def delete_source(self, upload_id: UUID) -> None:
        """The upload became a video: remove what is left of it, never the master."""
        ...

    def delete(self, upload: Upload) -> None:
        """Forget the bytes of an upload terminated or expired (no video was made of it)."""
        ...

    def remove_untouched(self, max_age_s: float, now: float | None = None) -> int:
        """Remove the bytes of uploads older than `max_age_s` whatever the rows say; how many went."""
        ...


class UploadArea:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, upload_id: UUID) -> Path:
        return self.root / upload_id.hex

    @full_is_refused("upload")
    def create(self, upload_id: UUID) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.path(upload_id).touch(exist_ok=False)

    def part_size(self, length: int) -> None:
        return None

    def offset(self, upload: Upload) -> int:
        """Bytes received so far; FileNotFoundError when the upload is gone."""
        return self.path(upload.id).stat().st_size

    @contextmanager
    def writer(self, upload: Upload) -> Iterator["FileAppender"]:
        """The upload's file opened for appending, locked against other writers (UploadBusy);
        FileNotFoundError when it is gone, DiskFull when the disk is."""
        # Never created here: a request that found the upload may get here after its termination.
        descriptor = os.open(self.path(upload.id), os.O_WRONLY | os.O_APPEND)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy(str(upload.id)) from None
            with full_is_refused("upload"):
                try:
                    yield FileAppender(descriptor)
                except BaseException:
                    with contextlib.suppress(OSError):  # the request's own error is the one to report
                        os.fsync(descriptor)  # what the file took before it is kept
                    raise
                os.fsync(descriptor)
        finally:
            os.close(descriptor)

    @contextmanager
    def locked(self, upload: Upload) -> Iterator[None]:
        with self.writer(upload):
            yield

    def open(self, upload_id: UUID) -> BinaryIO:
        return self.path(upload_id).open("rb")

    def store_master(self, upload: Upload, storage: Storage, key: str) -> str:
        """Store the file under `key` (linked when storage is on this file system, else copied); `key`.
        The file stays until `delete_source`."""
        storage.put_file(key, self.path(upload.id))
        return key

    def undo_master(self, storage: Storage, key: str) -> None:
        storage.delete(key)

    def delete_source(self, upload_id: UUID) -> None:
        self.path(upload_id).unlink(missing_ok=True)

    def delete(self, upload: Upload) -> None:
        self.delete_source(upload.id)

    def remove_untouched(self, max_age_s: float, now: float | None = None) -> int:
        """Delete the files nobody wrote to for `max_age_s`: an upload is created before its first
        byte, so such a file's upload has expired whatever its row says (or it has no row: a crash, a
        sweep by a process that does not see this folder). How many went."""
        limit = (time.time() if now is None else now) - max_age_s
        removed = 0
        for entry in os.scandir(self.root) if self.root.is_dir() else ():
            if entry.is_file() and entry.stat().st_mtime < limit:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed


class FileAppender:
    """Appends to an upload's file with no buffer of its own: each write is in the file when it returns,
    or, when the disk is full (ENOSPC, EDQUOT), not at all. What part of it the disk took is cut off
    again, so the file's size (the upload's offset) counts whole writes only, the client resending
    from there once room is made."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor

    def write(self, data: bytes, /) -> int:
        start = os.fstat(self.descriptor).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.descriptor, view) :]
        except OSError as error:
            if error.errno in FULL_ERRNOS and os.fstat(self.descriptor).st_size > start:
                os.ftruncate(self.descriptor, start)
            raise
        return len(data)

    def flush(self) -> None:
        """Nothing: each write went to the file (fsync'd when the writer's context ends)."""


def append(file: Appender, read: Callable[[int], bytes], limit: int) -> int:
    """Copy at most `limit` bytes from `read` to `file` in chunks, flushing each; how many were copied.
    A body that ends early (`read` gives b"": the client went away) stops with what arrived kept."""
    copied = 0
    while copied < limit:
        chunk = read(min(CHUNK_BYTES, limit - copied))
        if not chunk:
            break
        file.write(chunk)
        file.flush()
        copied += len(chunk)
    return copied
