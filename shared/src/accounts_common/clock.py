"""The wall clock, as the services' default `clock` (tests pass their own)."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
