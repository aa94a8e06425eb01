"""HTTP byte ranges (RFC 9110 §14): one range per request, checked against the file's size."""

import re
from dataclasses import dataclass

BYTE_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*\Z")
MAX_DIGITS = 19  # anything longer than a 63-bit offset is no real file's


class UnsatisfiableRange(Exception):
    """The Range header is malformed, asks for several ranges, or lies outside the file."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes start..end of a file, both included."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str, size: int) -> ByteRange:
    """The single byte range `header` asks of a file of `size` bytes; UnsatisfiableRange otherwise."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        raise UnsatisfiableRange("only byte ranges are served")
    if "," in spec:
        raise UnsatisfiableRange("only one range per request is served")
    match = BYTE_RANGE.match(spec)
    if not match or not any(match.groups()) or any(len(part) > MAX_DIGITS for part in match.groups()):
        raise UnsatisfiableRange("the range is malformed")
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise UnsatisfiableRange("the range is empty")
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise UnsatisfiableRange("the range lies outside the file")
    return ByteRange(start, end)
