"""Where tus uploads collect their bytes before they become a video's master: one file per upload in
a folder. A file's size is the upload's offset, so what reached the disk before a crash counts."""

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

CHUNK_BYTES = 1024 * 1024


class UploadBusy(Exception):
    """Another request is writing to this upload right now."""


class UploadArea:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, upload_id: UUID) -> Path:
        return self.root / upload_id.hex

    def create(self, upload_id: UUID) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.path(upload_id).touch(exist_ok=False)

    def offset(self, upload_id: UUID) -> int:
        """Bytes received so far; FileNotFoundError when the upload is gone."""
        return self.path(upload_id).stat().st_size

    @contextmanager
    def writer(self, upload_id: UUID) -> Iterator[BinaryIO]:
        """The upload's file opened for appending, locked against other writers (UploadBusy)."""
        with self.path(upload_id).open("ab") as file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy(str(upload_id)) from None
            try:
                yield file
            finally:
                file.flush()
                os.fsync(file.fileno())

    def open(self, upload_id: UUID) -> BinaryIO:
        return self.path(upload_id).open("rb")

    def delete(self, upload_id: UUID) -> None:
        self.path(upload_id).unlink(missing_ok=True)

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


def append(file: BinaryIO, read: Callable[[int], bytes], limit: int) -> int:
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
