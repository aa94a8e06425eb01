"""tus requests passed on to the catalogue's /v1/uploads/ with the editor's token: the console's page
uploads to the portal (same origin), so the token never reaches the page's script and the catalogue
needs no CORS. Bodies stream through in the request's own chunks, never held whole in memory."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

import urllib3

from portal.adapters.http import ServiceUnavailable

# What a tus client sends and what the catalogue answers, passed on as they are (Location is rewritten).
REQUEST_HEADERS = ("Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset", "Content-Type",
                   "Content-Length")  # fmt: skip
ANSWER_HEADERS = ("Tus-Resumable", "Tus-Version", "Upload-Offset", "Upload-Length", "Upload-Metadata",
                  "Upload-Expires", "Location", "Content-Type")  # fmt: skip

DISK_FULL = 507  # insufficient-storage


@dataclass(frozen=True)
class TusAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


class TusForwarder:
    """Sends one tus request to the catalogue's upload endpoint and gives its answer back."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        # A chunk's body takes longer than an API call: the timeout is per read, not for the whole call.
        self.pool = urllib3.PoolManager(
            maxsize=4, retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout)
        )

    def forward(
        self, method: str, path: str, token: str, headers: Mapping[str, str], body: IO[bytes] | None = None
    ) -> TusAnswer:
        """`path` below /v1/uploads/ ("" to create), with the client's tus `headers` (REQUEST_HEADERS);
        ServiceUnavailable when the catalogue does not answer. Its 507 (a full disk, the bytes before
        kept) is passed on as it is: the page's script says so, where an outage would read as a broken
        line."""
        sent = {**headers, "Authorization": f"Bearer {token}"}
        try:
            response = self.pool.urlopen(
                method, f"{self.base_url}/v1/uploads/{path}", body=body, headers=sent,
                preload_content=True, redirect=False,
            )  # fmt: skip
        except urllib3.exceptions.HTTPError as error:
            raise ServiceUnavailable("catalogue", str(error)) from None
        if response.status >= 500 and response.status != DISK_FULL:
            raise ServiceUnavailable("catalogue", f"HTTP {response.status}")
        kept = {name: response.headers[name] for name in ANSWER_HEADERS if name in response.headers}
        return TusAnswer(response.status, kept, response.data)
