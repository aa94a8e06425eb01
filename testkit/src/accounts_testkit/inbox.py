"""Client of the local SMTP sink's HTTP inbox."""

import json
import re
import urllib.parse
import urllib.request
from typing import Any

from accounts_testkit.polling import wait_for

CODE_PATTERN = re.compile(r"(?:Your verification code|Votre code de vérification)\s*:\s*(\d{6})")


class Inbox:
    """Reads and clears the messages the SMTP sink received; switches its SMTP faults."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Newest first, optionally only those to one address."""
        query = f"?{urllib.parse.urlencode({'to': to})}" if to else ""
        return self._request("GET", f"/api/messages{query}")

    def wait_for_messages(self, to: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least `count` messages to the address, newest first."""

        def enough() -> list[dict[str, Any]] | None:
            found = self.messages(to)
            return found if len(found) >= count else None

        return wait_for(enough, timeout=timeout, what=f"{count} email(s) to {to}")

    def clear(self) -> None:
        self._request("DELETE", "/api/messages")

    def set_fault(self, code: int, message: str, **limit: int | str) -> None:
        """Answer SMTP transactions with `code` until `count` or `seconds` run out (to `recipients`)."""
        self._request("PUT", "/api/fault", {"code": code, "message": message, **limit})

    def clear_fault(self) -> None:
        self._request("DELETE", "/api/fault")

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None


def code_in(message: dict[str, Any]) -> str:
    """The six-digit code of a code email (from its plain-text part)."""
    match = CODE_PATTERN.search(message["text"] or "")
    assert match, f"no code in email {message['subject']!r}"
    return match.group(1)
