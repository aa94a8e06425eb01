"""Sending stored files over HTTP: conditional requests, one byte range, sendfile through the server's
`wsgi.file_wrapper` (gunicorn), or `X-Accel-Redirect` to hand the bytes to nginx."""

import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from flask import Response, request

from accounts_common.problems import Problem
from catalogue.domain.ranges import ByteRange, UnsatisfiableRange, parse_range

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A file to send and how to describe it."""

    key: str
    size: int
    media_type: str
    disposition: str
    etag: str | None = None
    cache_control: str = "private, max-age=0"


def file_response(
    stored: StoredFile, open_file: Callable[[], BinaryIO], *, x_accel_prefix: str = ""
) -> Response:
    """200, 206, 304 or 416 for the current GET/HEAD of `stored`; the file is never read into memory."""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": stored.disposition,
        "Cache-Control": stored.cache_control,
    }
    if stored.etag:
        headers["ETag"] = f'"{stored.etag}"'
        if request.if_none_match.contains(stored.etag):
            return Response(status=304, headers=headers)
    if x_accel_prefix:
        # nginx serves the bytes (and the ranges) from its internal location for this prefix.
        headers["X-Accel-Redirect"] = f"{x_accel_prefix}/{urllib.parse.quote(stored.key)}"
        return Response(status=200, headers=headers, mimetype=stored.media_type)
    byte_range = requested_range(stored)
    start, length = (0, stored.size) if byte_range is None else (byte_range.start, byte_range.length)
    if byte_range is not None:
        headers["Content-Range"] = byte_range.content_range(stored.size)
    body = () if request.method == "HEAD" else file_body(open_file(), start, length)
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
    """The single range asked for, None for the whole file (no Range, or an If-Range that no longer
    matches); a 416 problem when the range is malformed, multiple or outside the file."""
    header = request.headers.get("Range")
    if header is None:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != f'"{stored.etag}"':
        return None  # a strong validator is required; dates and other tags get the whole file
    try:
        return parse_range(header, stored.size)
    except UnsatisfiableRange as error:
        raise Problem(
            416, "range-not-satisfiable", f"{error}.", headers={"Content-Range": f"bytes */{stored.size}"}
        ) from None


def file_body(file: BinaryIO, start: int, length: int) -> Iterable[bytes]:
    """The bytes start..start+length of `file`: the server's file wrapper when it has one (gunicorn
    sendfiles from the current offset and stops at Content-Length), else a bounded chunked read."""
    file.seek(start)
    file_wrapper = request.environ.get("wsgi.file_wrapper")
    if file_wrapper is not None:
        return file_wrapper(file, CHUNK_BYTES)
    return read_slice(file, length)


def read_slice(file: BinaryIO, length: int) -> Iterator[bytes]:
    """Read `length` bytes in chunks from the current offset, closing the file at the end."""
    try:
        remaining = length
        while remaining > 0:
            chunk = file.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        file.close()
