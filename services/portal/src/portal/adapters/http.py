"""A small JSON client for the other services' HTTP APIs (problem+json errors become exceptions).

Each service gets a pool of kept-alive connections (urllib3): a page makes several calls, and a new
TCP connection for each cost more than the call itself.
"""

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3


class ServiceUnavailable(Exception):
    """The service did not answer, or answered with a 5xx (`status`, None when none came): the page
    says so instead of failing. `slug`: the problem the service itself answered, if any (its own
    refusal, such as identity-unavailable, rather than a proxy's page or a crash)."""

    def __init__(self, service: str, reason: str, status: int | None = None, slug: str | None = None) -> None:
        super().__init__(f"{service} is unavailable: {reason}")
        self.service, self.status, self.slug = service, status, slug


@dataclass
class ApiError(Exception):
    """A 4xx problem from a service: its status, the last part of its `type`, its field errors, and
    the extension members of its type (RFC 9457 §3.2), such as mfa-required's `challenge`."""

    status: int
    slug: str
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.slug}: {self.detail}"

    @property
    def session_ended(self) -> bool:
        """The access token expired or was revoked (logout, password reset, deletion): log in again."""
        return self.status == 401 or (self.status == 403 and self.slug == "token-revoked")


class JsonApi:
    """Calls one service at `base_url`; `extra_headers` adds headers of the current request."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        timeout: float,
        extra_headers: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self.service, self.base_url, self.timeout = service, base_url.rstrip("/"), timeout
        self.extra_headers = extra_headers
        # No retries of its own: a failed call is shown as "unavailable", never silently repeated
        # (a POST may have been done). Ten connections a worker thread set is ample.
        self.pool = urllib3.PoolManager(maxsize=10, retries=False, timeout=urllib3.Timeout(total=timeout))

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        query: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (None when empty); ApiError on a 4xx, ServiceUnavailable otherwise.
        The body is `body` as JSON, or `form` URL-encoded."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v not in (None, "")})
        headers = {"Accept": "application/json", **self.extra_headers()}
        data = None
        if body is not None:
            headers["Content-Type"], data = "application/json", json.dumps(body).encode()
        elif form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urllib.parse.urlencode(form).encode()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self.pool.request(method, url, body=data, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            raise ServiceUnavailable(self.service, str(error)) from None
        if response.status >= 500:
            slug = _api_error(response.status, response.data).slug
            problem = None if slug == "about:blank" else slug  # none in a proxy's page or a crash's
            reason = f"HTTP {response.status} {problem or ''}".rstrip()
            raise ServiceUnavailable(self.service, reason, response.status, problem)
        if response.status >= 400:
            raise _api_error(response.status, response.data)
        try:
            return _decoded(response.data)
        except ValueError as error:
            raise ServiceUnavailable(self.service, f"not JSON: {error}") from None


STANDARD_MEMBERS = {"type", "title", "status", "detail", "instance", "errors"}


def _decoded(payload: bytes) -> Any:
    return json.loads(payload) if payload else None


def _api_error(status: int, payload: bytes) -> ApiError:
    try:
        problem = json.loads(payload) if payload else {}
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    errors = problem.get("errors")
    if not isinstance(errors, dict):
        errors = {}
    return ApiError(
        status=status,
        slug=str(problem.get("type") or "about:blank").rsplit("/", 1)[-1],
        detail=str(problem.get("detail") or ""),
        errors={
            name: [str(m) for m in messages]
            for name, messages in errors.items()
            if isinstance(messages, list)
        },
        members={name: value for name, value in problem.items() if name not in STANDARD_MEMBERS},
    )
