"""Sending stored files over HTTP: conditional requests, one byte range, sendfile through the server's
`wsgi.file_wrapper` (gunicorn) for local files, a bounded streamed read for others (S3), or
`X-Accel-Redirect` to hand the bytes to nginx; with the file's stored SHA-256 as `Repr-Digest`. And
how those answers are described in the OpenAPI document."""

import base64
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import Response, request

from accounts_common.problems import Problem
from catalogue.domain.ranges import ByteRange, UnsatisfiableRange, parse_range

CHUNK_BYTES = 256 * 1024
# Reads that are not sendfile (an object store's stream): fewer, larger ones cost less Python per byte.
STREAM_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A file to send and how to describe it."""

    key: str
    size: int
    media_type: str
    disposition: str
    etag: str | None = None
    cache_control: str = "private, max-age=0"
    sha256: str | None = None  # hex, as stored at ingest: never recomputed per request


def repr_digest(sha256_hex: str) -> str:
    """The RFC 9530 Repr-Digest field of a whole file whose SHA-256 is `sha256_hex`."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


def file_response(
    stored: StoredFile, open_file: Callable[[], BinaryIO], *, x_accel_prefix: str = ""
) -> Response:
    """200, 206, 304 or 416 for the current GET/HEAD of `stored`; the file is never read into memory."""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": stored.disposition,
        "Cache-Control": stored.cache_control,
    }
    if stored.sha256:
        # Of the whole representation, so a 206 carries it too: the client checks what it assembled.
        headers["Repr-Digest"] = repr_digest(stored.sha256)
    if stored.etag:
        headers["ETag"] = f'"{stored.etag}"'
        # Weak comparison (RFC 9110 §13.1.2): a cache may hold the file under W/"…"; If-Range stays strong.
        if request.if_none_match.contains_weak(stored.etag):
            return Response(status=304, headers=headers)
    if x_accel_prefix:
        # nginx serves the bytes (and the ranges) from its internal location for this prefix.
        headers["X-Accel-Redirect"] = f"{x_accel_prefix}/{urllib.parse.quote(stored.key)}"
        return Response(status=200, headers=headers, mimetype=stored.media_type)
    byte_range = requested_range(stored)
    start, length = (0, stored.size) if byte_range is None else (byte_range.start, byte_range.length)
    if byte_range is not None:
        headers["Content-Range"] = byte_range.content_range(stored.size)
    body = headers_only(open_file) if request.method == "HEAD" else file_body(open_file(), start, length)
    response = Response(
        body,
        status=200 if byte_range is None else 206,
        headers=headers,
        mimetype=stored.media_type,
        direct_passthrough=True,
    )
    response.content_length = length
    return response


def requested_range(stored: StoredFile) -> ByteRange | None:
    """The single range asked for, None for the whole file (no Range, a unit other than bytes, or an
    If-Range that no longer matches); a 416 problem when the range is malformed, multiple or outside
    the file."""
    header = request.headers.get("Range")
    if header is None:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != f'"{stored.etag}"':
        return None  # a strong validator is required; dates and other tags get the whole file
    if header.partition("=")[0].strip().lower() != "bytes":
        return None  # RFC 9110 §14.2: a unit not understood MUST be ignored (as nginx does)
    try:
        return parse_range(header, stored.size)
    except UnsatisfiableRange as error:
        raise Problem(
            416, "range-not-satisfiable", f"{error}.", headers={"Content-Range": f"bytes */{stored.size}"}
        ) from None


def headers_only(open_file: Callable[[], BinaryIO]) -> tuple[()]:
    """No body for a HEAD, but the file is opened as a GET would open it: a file lost from the store
    is the same 503 to both."""
    open_file().close()
    return ()


def file_body(file: BinaryIO, start: int, length: int) -> Iterable[bytes]:
    """The bytes start..start+length of `file`: the server's file wrapper for a real file (gunicorn
    sendfiles from the current offset and stops at Content-Length), else a bounded chunked read (an
    object store's stream would otherwise be read to its end)."""
    file.seek(start)
    file_wrapper = request.environ.get("wsgi.file_wrapper")
    if file_wrapper is not None and has_descriptor(file):
        return file_wrapper(file, CHUNK_BYTES)
    return read_slice(file, length)


def has_descriptor(file: BinaryIO) -> bool:
    try:
        file.fileno()
    except (OSError, AttributeError, ValueError):
        return False
    return True


def read_slice(file: BinaryIO, length: int) -> Iterator[bytes]:
    """Read `length` bytes in chunks from the current offset, closing the file at the end. The first
    chunk is read now, before the status is sent: a store that fails at once is a 503 problem, not a
    200 cut short (a failure later can only cut the body short of its Content-Length)."""
    try:
        first = file.read(min(STREAM_CHUNK_BYTES, length)) if length > 0 else b""
    except BaseException:
        file.close()
        raise
    return _slice_from(first, file, length - len(first))


def _slice_from(first: bytes, file: BinaryIO, remaining: int) -> Iterator[bytes]:
    try:
        yield first
        while remaining > 0:
            chunk = file.read(min(STREAM_CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        file.close()


# How the answers above are described in the OpenAPI document.
FILE_TYPES = ("video/mp4", "application/mxf", "video/quicktime", "video/webm", "application/octet-stream")
FILE_HEADERS = {
    name: {"schema": {"type": "string"}}
    for name in ("Accept-Ranges", "Content-Disposition", "ETag", "Content-Length", "Repr-Digest")
}
IMAGE_CONTENT = {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}
IMAGE_HEADERS = {name: {"schema": {"type": "string"}} for name in ("Repr-Digest", "ETag", "Content-Length")}
IMAGE_RESPONSES = {
    "200": {"description": "The image", "content": IMAGE_CONTENT, "headers": IMAGE_HEADERS},
    "206": {
        "description": "One byte range of the image (Range, If-Range)",
        "content": IMAGE_CONTENT,
        "headers": {**IMAGE_HEADERS, "Content-Range": {"schema": {"type": "string"}}},
    },
    "304": {"description": "Not modified (If-None-Match)"},
}
RANGE_PROBLEM = {416: "Malformed, multiple or unsatisfiable range"}


def file_responses(description: str) -> dict[str, Any]:
    """OpenAPI: a whole file (200) or one byte range of it (206)."""
    content = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in FILE_TYPES}
    return {
        "200": {"description": f"{description}: the whole file", "content": content, "headers": FILE_HEADERS},
        "206": {
            "description": f"{description}: one byte range",
            "content": content,
            "headers": {**FILE_HEADERS, "Content-Range": {"schema": {"type": "string"}}},
        },
        "304": {"description": "Not modified (If-None-Match)"},
    }
