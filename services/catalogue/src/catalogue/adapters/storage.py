"""Where renditions' files live. `LocalStorage` is a folder; an S3-compatible object store would be
another `Storage` (see README: it would answer downloads with presigned URLs instead of bytes)."""

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

CHECKSUM_CHUNK = 1024 * 1024


class UnsafeKey(Exception):
    """A storage key that is not a plain relative path inside the storage root."""


class MissingFile(Exception):
    """No file is stored under that key."""


class Storage(Protocol):
    def size(self, key: str) -> int:
        """The file's size in bytes; MissingFile when there is none."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file, opened for reading (a real file, so servers can sendfile it)."""
        ...

    def checksum(self, key: str) -> str:
        """SHA-256 of the file, in hex, read in chunks."""
        ...

    def put(self, key: str, file: BinaryIO) -> None:
        """Store the file's bytes (read in chunks from its current offset) under `key`, whole or not
        at all: nothing is listed under `key` until every byte is stored."""
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A path on this machine holding the file for as long as the context lasts (ffmpeg's input);
        MissingFile when there is none."""
        ...


def checked_key(key: str) -> PurePosixPath:
    """The key as a relative path without `..`, absolute parts, NUL or backslashes; UnsafeKey otherwise."""
    if not key or "\x00" in key or "\\" in key or len(key) > 1024:
        raise UnsafeKey(f"not a storage key: {key!r}")
    path = PurePosixPath(key)
    if path.is_absolute() or any(part in ("..", ".", "") for part in key.split("/")):
        raise UnsafeKey(f"a storage key is a plain relative path: {key!r}")
    return path


class LocalStorage:
    """Files under a root folder; no key, symbolic link included, can reach outside it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file's real path, refusing any that would leave the root (`..`, links pointing out)."""
        resolved = (self.root / checked_key(key)).resolve()
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise UnsafeKey(f"{key!r} leads outside the storage root")
        return resolved

    def size(self, key: str) -> int:
        path = self.path(key)
        if not path.is_file():
            raise MissingFile(key)
        return path.stat().st_size

    def open(self, key: str) -> BinaryIO:
        path = self.path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise MissingFile(key) from None

    def checksum(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.open(key) as file:
            while chunk := file.read(CHECKSUM_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def put(self, key: str, file: BinaryIO) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        with temporary.open("wb") as target:
            shutil.copyfileobj(file, target, CHECKSUM_CHUNK)
        os.replace(temporary, path)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise MissingFile(key)
        yield path

    def write(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (the seed and tests; operators put files in place themselves)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)
