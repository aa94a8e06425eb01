"""Client of the local inbox: Mailpit's API for the mail, the SMTP fault switch for refusals.

A message reads as a dict: id, from (the envelope sender), to (the recipients' addresses),
subject, date (the Date header), text and html (the bodies, newlines as \\n, or None), headers
(name -> value, a repeated header's values joined with ", "), received_at (UTC, milliseconds)
and peer (host:port of the SMTP connection that brought it, from deploy/local/smtp_faults.py).
"""

import itertools
import json
import re
import urllib.parse
import urllib.request
from typing import Any

from accounts_testkit.polling import wait_for

CODE_PATTERN = re.compile(r"(?:Your verification code|Votre code de vérification)\s*:\s*(\d{6})")
PAGE = 1000  # Mailpit lists 50 a page unless told
PEER_HEADER = "X-Smtp-Peer"


class Inbox:
    """Reads and clears the messages Mailpit received; switches the SMTP faults in front of it."""

    def __init__(self, base_url: str, faults_url: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.faults_url = faults_url.rstrip("/") if faults_url else None
        # A received message never changes: read whole once (two requests), however often it is listed.
        self._read_by_id: dict[str, dict[str, Any]] = {}

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Newest first, optionally only those to one address (case-insensitive), read whole."""
        return [self._read(summary) for summary in self.summaries(to)]

    def summaries(self, to: str | None = None) -> list[dict[str, Any]]:
        """Newest first: id, to, subject and received_at only (one request a thousand messages)."""
        path, params = ("/api/v1/search", {"query": f"addressed:{to}"}) if to else ("/api/v1/messages", {})
        found: dict[str, dict[str, Any]] = {}
        for start in itertools.count(0, PAGE):
            query = urllib.parse.urlencode({**params, "start": start, "limit": PAGE})
            page = self._request("GET", self.base_url, f"{path}?{query}")["messages"]
            # A message arriving meanwhile moves the older ones a place down: some are listed twice.
            for summary in map(summary_of, page):
                found.setdefault(summary["id"], summary)
            if len(page) < PAGE:
                break
        wanted = to.strip().lower() if to else None
        return [m for m in found.values() if wanted is None or wanted in (a.lower() for a in m["to"])]

    def total(self) -> int:
        """How many messages Mailpit holds."""
        return int(self._request("GET", self.base_url, "/api/v1/messages?limit=1")["total"])

    def wait_for_messages(self, to: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least `count` messages to the address, newest first."""

        def enough() -> list[dict[str, Any]] | None:
            found = self.summaries(to)
            return [self._read(summary) for summary in found] if len(found) >= count else None

        return wait_for(enough, timeout=timeout, what=f"{count} email(s) to {to}")

    def raw(self, message_id: str) -> bytes:
        """The message as received (with the X-Smtp-Peer line the fault handler put first)."""
        with urllib.request.urlopen(
            f"{self.base_url}/api/v1/message/{message_id}/raw", timeout=10
        ) as response:
            return bytes(response.read())

    def clear(self) -> None:
        self._request("DELETE", self.base_url, "/api/v1/messages")
        self._read_by_id.clear()

    def set_fault(self, code: int, message: str, **limit: int | str) -> None:
        """Answer SMTP transactions with `code` until `count` or `seconds` run out (to `recipients`).
        One fault per `recipients` text: this replaces only the fault of the same text."""
        self._request("PUT", self._faults(), "/api/fault", {"code": code, "message": message, **limit})

    def clear_fault(self, recipients: str | None = None) -> None:
        """Clear the fault set for `recipients`; without it, every fault (a shared sink's too)."""
        query = "" if recipients is None else "?" + urllib.parse.urlencode({"recipients": recipients})
        self._request("DELETE", self._faults(), "/api/fault" + query)

    def fault_stats(self) -> dict[str, int]:
        """The fault handler's counters: received, rejected, relayed."""
        stats: dict[str, int] = self._request("GET", self._faults(), "/api/stats")
        return stats

    def _read(self, summary: dict[str, Any]) -> dict[str, Any]:
        if summary["id"] not in self._read_by_id:
            self._read_by_id[summary["id"]] = self._read_whole(summary)
        return dict(self._read_by_id[summary["id"]])

    def _read_whole(self, summary: dict[str, Any]) -> dict[str, Any]:
        detail = self._request("GET", self.base_url, f"/api/v1/message/{summary['id']}")
        raw_headers = self._request("GET", self.base_url, f"/api/v1/message/{summary['id']}/headers")
        headers = {name: ", ".join(values) for name, values in raw_headers.items()}
        return {
            **summary,
            "from": detail["ReturnPath"],
            "date": headers.get("Date"),
            "text": lf(detail["Text"]),
            "html": lf(detail["HTML"]),
            "headers": headers,
            "peer": headers.get(PEER_HEADER),
        }

    def _faults(self) -> str:
        if self.faults_url is None:
            raise RuntimeError("this inbox was given no fault switch (faults_url)")
        return self.faults_url

    @staticmethod
    def _request(method: str, base_url: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload, content_type = response.read(), response.headers.get_content_type()
        return json.loads(payload) if content_type == "application/json" else None  # Mailpit: "ok"


def summary_of(message: dict[str, Any]) -> dict[str, Any]:
    """What a Mailpit listing says of one message, in this client's names."""
    addressed = (message.get(field) or [] for field in ("To", "Cc", "Bcc"))
    return {
        "id": message["ID"],
        "to": [mailbox["Address"] for mailboxes in addressed for mailbox in mailboxes],
        "subject": message["Subject"],
        "received_at": message["Created"],
    }


def lf(body: str) -> str | None:
    """A body with \\n newlines; None when the message has no such part."""
    return body.replace("\r\n", "\n") if body else None


def code_of(message: dict[str, Any]) -> str | None:
    """The six-digit code of a code email (from its plain-text part); None for any other email."""
    match = CODE_PATTERN.search(message["text"] or "")
    return match.group(1) if match else None


def code_in(message: dict[str, Any]) -> str:
    """The six-digit code of a code email, which it must be."""
    code = code_of(message)
    assert code, f"no code in email {message['subject']!r}"
    return code
