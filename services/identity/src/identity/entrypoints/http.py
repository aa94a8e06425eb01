"""What identity's views share: the request's client and token, and documented problem responses."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, request

from accounts_common.problems import document_problems
from identity.bootstrap import Identity
from identity.service_layer.errors import Unauthenticated

BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
problems = document_problems


def identity() -> Identity:
    """The Identity this app was built with."""
    return current_app.extensions["identity"]


def client_ip() -> str:
    """The caller's address (X-Forwarded-For is trusted only through IDENTITY_TRUSTED_PROXY_HOPS)."""
    return request.remote_addr or "unknown"


def bearer_token() -> str:
    """The access token of the Authorization header; Unauthenticated when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


@contextmanager
def uniform_duration() -> Iterator[None]:
    """Answer no sooner than IDENTITY_UNIFORM_RESPONSE_MS after starting the work inside."""
    # Resend and reset write a code and an event for a known email and nothing for an unknown one;
    # a floor above both keeps that difference (a millisecond or two) out of the response time.
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = started + identity().settings.uniform_response_ms / 1000 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
