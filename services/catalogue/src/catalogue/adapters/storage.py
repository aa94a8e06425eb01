"""Where renditions' files live: `LocalStorage`, a folder (the default), or `S3Storage`, a bucket of any
S3-compatible object store (`CATALOGUE_STORAGE=s3://bucket[/prefix]`, `AWS_ENDPOINT_URL`)."""

import hashlib
import io
import os
import shutil
import stat
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from catalogue.adapters.disk import full_is_refused
from catalogue.adapters.s3 import s3_client

CHECKSUM_CHUNK = 1024 * 1024
MAX_NAME_BYTES = 255  # of each part of a key: what file systems take as one name


class UnsafeKey(Exception):
    """A storage key that is not a plain relative path inside the storage root."""


class MissingFile(Exception):
    """No file is stored under that key."""


class StorageUnavailable(Exception):
    """The store did not answer as it should (down, refusing the keys, throttling): a 503, not a 500."""


class Storage(Protocol):
    def size(self, key: str) -> int:
        """The file's size in bytes; MissingFile when there is none."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file, opened for reading and seekable; a local one is a real file (servers sendfile it)."""
        ...

    def checksum(self, key: str) -> str:
        """SHA-256 of the file, in hex, read in chunks."""
        ...

    def put(self, key: str, source: BinaryIO) -> None:
        """Store everything `source` holds (from its current offset) under `key`, read in chunks,
        whole or not at all: readers never see half a file."""
        ...

    def put_file(self, key: str, source: Path) -> None:
        """Store the file at `source` under `key`, whole or not at all (`source` stays)."""
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A path on this machine holding the file for as long as the context lasts (ffmpeg's input);
        MissingFile when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file, if there is one."""
        ...

    def delete_folder(self, key: str) -> None:
        """Remove every file under `key/`, if there are any."""
        ...


def checked_key(key: str) -> PurePosixPath:
    """The key as a relative path without `..`, absolute parts, NUL or backslashes, each part a name a
    file system takes; UnsafeKey otherwise."""
    if not key or "\x00" in key or "\\" in key or len(key) > 1024:
        raise UnsafeKey(f"not a storage key: {key!r}")
    path = PurePosixPath(key)
    if path.is_absolute() or any(part in ("..", ".", "") for part in key.split("/")):
        raise UnsafeKey(f"a storage key is a plain relative path: {key!r}")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in key.split("/")):
        raise UnsafeKey(f"each part of a storage key is at most {MAX_NAME_BYTES} bytes: {key[:80]!r}…")
    return path


def sha256_of(file: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := file.read(CHECKSUM_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def bucket_and_prefix(location: str) -> tuple[str, str]:
    """The bucket and key prefix of an `s3://bucket[/prefix]` location; ValueError for anything else."""
    parts = urllib.parse.urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"CATALOGUE_STORAGE must be s3://bucket[/prefix] or empty, got {location!r}")
    return parts.netloc, parts.path.strip("/")


def open_storage(location: str, local_root: str) -> "LocalStorage | S3Storage":
    """The storage a CATALOGUE_STORAGE value names: `s3://bucket[/prefix]`, or (empty) the local root."""
    if not location:
        return LocalStorage(local_root)
    return S3Storage(*bucket_and_prefix(location))


class LocalStorage:
    """Files under a root folder; no key, symbolic link included, can reach outside it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file's real path, refusing any that would leave the root (`..`, links pointing out)."""
        try:
            resolved = (self.root / checked_key(key)).resolve()
        except (OSError, RuntimeError):  # RuntimeError: a loop of symbolic links
            raise UnsafeKey(f"{key!r} does not resolve to a file under the storage root") from None
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise UnsafeKey(f"{key!r} leads outside the storage root")
        return resolved

    def size(self, key: str) -> int:
        return self._regular_file(key).st_size

    def open(self, key: str) -> BinaryIO:
        path = self.path(key)
        try:
            return path.open("rb")
        except OSError:  # none, a folder, not readable: no file to give
            raise MissingFile(key) from None

    def checksum(self, key: str) -> str:
        with self.open(key) as file:
            return sha256_of(file)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        self._regular_file(key)
        yield self.path(key)

    def _regular_file(self, key: str) -> os.stat_result:
        """The file's status; MissingFile when no regular file can be read there (whatever the reason)."""
        try:
            found = self.path(key).stat()
        except OSError:
            raise MissingFile(key) from None
        if not stat.S_ISREG(found.st_mode):
            raise MissingFile(key)
        return found

    @full_is_refused("storage")
    def put(self, key: str, source: BinaryIO) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own: two writers of one key never share a file, and a key's longest name
        # (MAX_NAME_BYTES) leaves no room for a suffix.
        temporary = path.with_name(f".{uuid.uuid4().hex}.part")
        try:
            with temporary.open("xb") as target:
                shutil.copyfileobj(source, target, CHECKSUM_CHUNK)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)  # a half copy would only fill the disk
            raise

    @full_is_refused("storage")
    def put_file(self, key: str, source: Path) -> None:
        """A hard link when `source` is on the root's file system (no byte copied: a master of 200 GiB
        is stored at once), else a copy."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, path)
        except OSError:  # another file system (EXDEV), one without hard links, or a file there already
            with source.open("rb") as file:
                self.put(key, file)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_folder(self, key: str) -> None:
        folder = self.path(key)
        if folder.is_dir():
            shutil.rmtree(folder)

    def write(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (the seed and tests)."""
        self.put(key, io.BytesIO(data))


class S3Storage:
    """Objects of one bucket (under an optional prefix), through boto3: its usual configuration
    (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION…) applies."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.client = client if client is not None else s3_client()

    def object_key(self, key: str) -> str:
        return self.prefix + str(checked_key(key))

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def open(self, key: str) -> BinaryIO:
        return S3Reader(self, self.object_key(key), self.size(key))  # type: ignore[return-value]

    def checksum(self, key: str) -> str:
        with self.open(key) as file:
            return sha256_of(file)

    def put(self, key: str, source: BinaryIO) -> None:
        # Multipart above 8 MiB, in chunks: a multi-GB rendition never sits in memory, and S3 makes an
        # object visible only once complete. boto3 sizes a stream it cannot seek by its first read:
        # an unbuffered one's short read would send everything as one PUT (S3Proxy refuses one over 128 MiB).
        if isinstance(source, io.RawIOBase):
            source = io.BufferedReader(source, CHECKSUM_CHUNK)  # type: ignore[assignment]
        self.client.upload_fileobj(source, self.bucket, self.object_key(key))

    def put_file(self, key: str, source: Path) -> None:
        with source.open("rb") as file:
            self.put(key, file)

    def delete(self, key: str) -> None:
        object_key = self.object_key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=object_key)
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"s3://{self.bucket}/{object_key}: {error}") from error

    def delete_folder(self, key: str) -> None:
        prefix = self.object_key(key) + "/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"s3://{self.bucket}/{prefix}: {error}") from error

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """The object downloaded into a temporary file (in chunks), deleted when the context ends."""
        self.size(key)  # MissingFile, StorageUnavailable
        with tempfile.TemporaryDirectory(prefix="catalogue-") as folder:
            path = Path(folder) / PurePosixPath(key).name
            try:
                self.client.download_file(self.bucket, self.object_key(key), str(path))
            except (BotoCoreError, ClientError) as error:
                raise StorageUnavailable(f"s3://{self.bucket}/{self.object_key(key)}: {error}") from error
            yield path

    def ensure_bucket(self) -> bool:
        """Create the bucket unless it exists (local and test stores; production's is provisioned);
        whether it was created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        self.client.create_bucket(Bucket=self.bucket)
        return True

    def presigned_url(self, key: str, lifetime_s: int) -> str:
        """A URL that GETs the object (Range included) without credentials, for `lifetime_s` seconds."""
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.object_key(key)},
                ExpiresIn=lifetime_s,
            )
        )

    def get(self, object_key: str, start: int) -> Any:
        """The object's bytes from `start` on, as botocore's streaming body; StorageUnavailable when the
        store does not give them (down, or the object gone since it was sized)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=object_key, Range=f"bytes={start}-")["Body"]
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"s3://{self.bucket}/{object_key}: {error}") from error

    def _head(self, key: str) -> dict[str, Any]:
        object_key = self.object_key(key)
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=object_key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise MissingFile(key) from None
            raise StorageUnavailable(f"s3://{self.bucket}/{object_key}: {error}") from error
        except BotoCoreError as error:
            raise StorageUnavailable(f"s3://{self.bucket}/{object_key}: {error}") from error


class S3Reader(io.RawIOBase):
    """A seekable, read-only view of one object: each read after a seek streams from that offset with
    one ranged GET, so serving a byte range never fetches the bytes before it."""

    def __init__(self, storage: S3Storage, object_key: str, size: int) -> None:
        super().__init__()
        self.storage, self.object_key, self.length = storage, object_key, size
        self.position = 0
        self.body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        position = max(0, base + offset)
        if position != self.position:
            self._drop_body()
            self.position = position
        return position

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.length or len(buffer) == 0:
            return 0
        if self.body is None:
            self.body = self.storage.get(self.object_key, self.position)
        try:
            data = self.body.read(len(buffer))
        except BotoCoreError as error:  # the connection dropped mid-object
            raise StorageUnavailable(f"s3://{self.storage.bucket}/{self.object_key}: {error}") from error
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None
