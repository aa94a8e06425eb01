"""Applying the rate limits: per IP for every abuse-prone request, per email where the answer is the same
whether or not the email has an account."""

import psycopg

from identity.bootstrap import Identity
from identity.service_layer.errors import RateLimited


def limit_ip(app: Identity, scope: str, ip: str) -> None:
    """Count the request against `<scope>_per_ip`; RateLimited once over it."""
    with app.pool.connection() as conn:
        _hit(app, conn, scope, "per_ip", ip)


def limit_email(
    app: Identity, conn: psycopg.Connection, scope: str, email: str, requester: str | None = None
) -> None:
    """Count the request against `<scope>_per_email` in the caller's transaction; RateLimited if over.

    With a `requester` (the caller's IP), `<scope>_per_email` counts that email from that requester
    and the higher `<scope>_per_email_all` the email from everyone: an attacker's requests use up
    their own allowance, not the owner's.
    """
    # Known and unknown emails are counted alike, so a 429 says nothing about accounts; counting in
    # the use case's transaction gives both kinds of email the same database write and commit.
    if requester is None:
        _hit(app, conn, scope, "per_email", email)
        return
    _hit(app, conn, scope, "per_email", f"{email}\0{requester}")
    _hit(app, conn, scope, "per_email_all", email)


def _hit(app: Identity, conn: psycopg.Connection, scope: str, per: str, value: str) -> None:
    limit = getattr(app.settings.rate_limits, f"{scope}_{per}")
    decision = app.limiter.hit(conn, app.limiter.bucket(f"{scope}:{per}", value), limit)
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s)
