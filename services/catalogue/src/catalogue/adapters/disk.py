"""A full disk where the catalogue writes files (the upload area, the local storage, the transcoder's
working folder): no room left on the device (ENOSPC) or in the quota (EDQUOT). It is no fault of the
request's nor of the video's, and it passes once room is made: the web answers 507
insufficient-storage, the transcoder gives the job back for later without counting the attempt."""

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# How ffmpeg, another process, says so: the C library's words for these errors.
FULL_WORDS = tuple(os.strerror(number) for number in sorted(FULL_ERRNOS))

DISK_FULL = Counter(
    "catalogue_disk_full_total", "Writes refused for a full disk or quota, by where", ["where"]
)
for _where in ("upload", "storage", "transcoder"):
    DISK_FULL.labels(_where)  # at 0 from the start: the alert's increase() sees the first one too


class DiskFull(Exception):
    """No room left to write `where` (upload, storage, transcoder); the message says what was written."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where


def is_full(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from, is a full disk or quota."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, DiskFull) or (isinstance(error, OSError) and error.errno in FULL_ERRNOS):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def says_full(words: str) -> bool:
    """Whether a program's error output says a disk or quota was full."""
    return any(full in words for full in FULL_WORDS)


@contextmanager
def full_is_refused(where: str) -> Iterator[None]:
    """An OSError of a full disk or quota raised within becomes DiskFull (also a decorator)."""
    try:
        yield
    except OSError as error:
        if error.errno in FULL_ERRNOS:
            raise DiskFull(where, f"{error.filename or 'a file'}: {error.strerror}") from error
        raise
