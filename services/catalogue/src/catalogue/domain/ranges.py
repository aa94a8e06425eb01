"""HTTP byte ranges (RFC 9110 §14): one range per request, checked against the file's size."""

import re
from dataclasses import dataclass

BYTE_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*\Z", re.ASCII)
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
    if not match or not any(match.groups()):
        raise UnsatisfiableRange("the range is malformed")
    first, last = match.groups()
    return suffix_range(last, size) if not first else bounded_range(first, last, size)


def suffix_range(length_digits: str, size: int) -> ByteRange:
    """The file's last bytes; a suffix longer than the file is the whole file (RFC 9110 §14.1.1)."""
    length = position(length_digits)
    if length == 0 or size == 0:
        raise UnsatisfiableRange("the range is empty")
    return ByteRange(0 if length is None else max(0, size - length), size - 1)


def bounded_range(first_digits: str, last_digits: str, size: int) -> ByteRange:
    """From the first position to the last, or to the end of the file when the last is absent or past
    it (RFC 9110 §14.1.1)."""
    start = position(first_digits)
    end = position(last_digits) if last_digits else None
    if start is None or start >= size or (end is not None and end < start):
        raise UnsatisfiableRange("the range lies outside the file")
    return ByteRange(start, size - 1 if end is None else min(end, size - 1))


def position(digits: str) -> int | None:
    """The number `digits` spell; None when it has more than MAX_DIGITS significant digits, past any
    file (and never handed to int(), which refuses strings of over 4300 digits)."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= MAX_DIGITS else None
