"""Rate-limit counters and login-failure throttles in PostgreSQL, shared by all workers and instances.

Why a fixed window: one row per bucket and one atomic upsert per request (no read-then-write race,
no row per hit as a sliding log needs). Its known weakness, up to twice the limit across a window
boundary, is acceptable for abuse limits; the window starts at a bucket's first hit, so buckets do
not all reset at the same instant.
"""

import hashlib
import hmac
from datetime import datetime, timedelta

import psycopg

from identity.domain.limits import Decision, Limit, judge_window

CLEANUP_EVERY = 1000  # hits between two sweeps of expired rows, per process


class RateLimiter:
    """Counts a hit in a bucket and says whether the limit allows it."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._hits_since_cleanup = 0

    def bucket(self, scope: str, value: str) -> bytes:
        """The key of one counter: keyed, as an unkeyed hash of an IPv4 address is undone by trying
        them all, so no IP or email is stored in a form that can be read back."""
        return hmac.new(self._key, f"{scope}\0{value.lower()}".encode(), hashlib.sha256).digest()

    def hit(self, conn: psycopg.Connection, key: bytes, limit: Limit) -> Decision:
        """Count one request in the bucket, atomically, and judge it against the limit."""
        row = conn.execute(
            """INSERT INTO rate_limits AS r (bucket, window_started_at, hits) VALUES (%(key)s, now(), 1)
               ON CONFLICT (bucket) DO UPDATE SET
                   window_started_at = CASE WHEN r.window_started_at <= now() - %(window)s
                                            THEN now() ELSE r.window_started_at END,
                   hits = CASE WHEN r.window_started_at <= now() - %(window)s THEN 1 ELSE r.hits + 1 END
               RETURNING hits, extract(epoch FROM now() - window_started_at)::float8""",
            {"key": key, "window": timedelta(seconds=limit.window_s)},
        ).fetchone()
        assert row is not None
        self._sweep_now_and_then(conn)
        return judge_window(limit, row[0], row[1])

    def _sweep_now_and_then(self, conn: psycopg.Connection) -> None:
        self._hits_since_cleanup += 1
        if self._hits_since_cleanup >= CLEANUP_EVERY:
            self._hits_since_cleanup = 0
            conn.execute("DELETE FROM rate_limits WHERE window_started_at < now() - interval '1 day'")


def take_turn(conn: psycopg.Connection, key: bytes) -> None:
    """Wait until no other login of that bucket is being judged; the turn ends with the transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (int.from_bytes(key[:8], "big", signed=True),))


def blocked_until(conn: psycopg.Connection, key: bytes) -> datetime | None:
    """Until when logins for that bucket must wait, if they must."""
    row = conn.execute(
        "SELECT blocked_until FROM login_failures WHERE bucket = %s AND blocked_until > now()", (key,)
    ).fetchone()
    return row[0] if row else None


def count_failure(conn: psycopg.Connection, key: bytes, forget_after_s: int) -> int:
    """Count one failed login; a run of failures older than `forget_after_s` starts over."""
    row = conn.execute(
        """INSERT INTO login_failures AS f (bucket, failures, last_failure_at) VALUES (%(key)s, 1, now())
           ON CONFLICT (bucket) DO UPDATE SET
               failures = CASE WHEN f.last_failure_at < now() - make_interval(secs => %(forget)s)
                               THEN 1 ELSE f.failures + 1 END,
               last_failure_at = now()
           RETURNING failures""",
        {"key": key, "forget": forget_after_s},
    ).fetchone()
    assert row is not None
    return row[0]


def block(conn: psycopg.Connection, key: bytes, seconds: int) -> None:
    """Make logins for that bucket wait `seconds` from now."""
    conn.execute(
        "UPDATE login_failures SET blocked_until = now() + make_interval(secs => %s) WHERE bucket = %s",
        (seconds, key),
    )


def forget_failures(conn: psycopg.Connection, key: bytes) -> None:
    """A successful login clears the bucket's failures."""
    conn.execute("DELETE FROM login_failures WHERE bucket = %s", (key,))
