"""A tiny JSON HTTP client (stdlib only)."""

import json
import urllib.error
import urllib.request
from typing import Any


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body, or its text when it is not JSON, or None when empty) — 4xx and 5xx
    are answers too, not exceptions, a proxy's HTML error page included."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    return status, _decoded(payload)


def _decoded(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:  # nginx's 502 page, say: the status must still reach the caller
        return payload.decode(errors="replace")
