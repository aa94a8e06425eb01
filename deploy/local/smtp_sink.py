#!/usr/bin/env python3
"""Local SMTP sink with an HTTP inbox, for development and tests.

Run:  python deploy/local/smtp_sink.py [--smtp-port 1025] [--http-port 8025] [--no-smtputf8]
      (env: SMTP_SINK_PORT, SMTP_SINK_HTTP_PORT, SMTP_SINK_HOST, SMTP_SINK_MAX_MESSAGES)
Needs aiosmtpd; everything else is the standard library.

One process, one asyncio loop serving both aiosmtpd's SMTP protocol and a small
HTTP/1.1 server, so the inbox, counters and fault switch are only touched from
the loop thread and need no lock. Parsing with email.policy.default costs ~0.5 ms
a message even with the header cache below, so to keep up with 300+ messages/s
the SMTP path only stores the raw bytes (plus a cheap To-header scan for ?to=);
messages are parsed on first read, on one dedicated parser thread that alone
fills and reads the parse cache, so a big listing never stalls SMTP clients.

SMTPUTF8 (RFC 6531) is offered, so non-ASCII addresses are accepted, unless --no-smtputf8.

Storage: accepted messages are kept in memory, the newest SMTP_SINK_MAX_MESSAGES
(default 10,000); older ones are dropped. Nothing is written to disk.

HTTP API (JSON unless noted):
  GET    /api/messages[?to=ADDR][&limit=N]
                                  newest first: {id, from, to, subject, date, text,
                                  html, headers, received_at (UTC, milliseconds), peer
                                  (the client's host:port)}. "from" and "to" are
                                  the SMTP envelope (MAIL FROM / RCPT TO); ?to= also
                                  matches To header addresses; case-insensitive.
                                  text/html: the text/plain and text/html bodies
                                  (newlines as \\n) or null. headers: name -> value;
                                  a repeated header's values are joined with ", ".
                                  limit: only the newest N (the first listing of
                                  many messages parses them, ~1 ms each).
  GET    /api/messages/<id>       one message
  GET    /api/messages/<id>/raw   the raw message as received (message/rfc822)
  DELETE /api/messages            empty the inbox (204); counters are kept
  GET    /api/stats               {"received": N, "rejected": N, "stored": N}
  PUT    /api/fault               {"code": 451, "message": "4.3.0 Try again later",
                                   "count": 50 | "seconds": 5, "recipients": "bounce-",
                                   "dsn": false}:
                                  answer every DATA with that reply (the transaction
                                  is refused, the message not stored) until `count`
                                  refusals or `seconds` have passed, whichever comes
                                  first; neither given: until cleared. "recipients":
                                  only transactions with an envelope recipient
                                  containing that text (case-insensitive) are refused.
                                  "dsn": true accepts the message instead and bounces
                                  it afterwards, as a relay does: an RFC 3464 delivery
                                  status notification with that code and message goes
                                  to the envelope sender, in this inbox and, with
                                  --bounce-maildir, in that Maildir (the bounce mailbox
                                  `mailer bounces --maildir` reads)
  GET    /api/fault               current fault, or {"active": false}
  DELETE /api/fault               clear the fault (204)
  GET    /                        HTML inbox for people (newest 200 messages)
  GET    /healthz                 "ok"
Errors: {"error": "..."} with 400 (bad JSON), 404 (unknown path or id), 405.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import json
import mailbox
import os
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.parser import BytesHeaderParser
from email.utils import formatdate, getaddresses, make_msgid
from http import HTTPStatus
from itertools import count
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.smtp import SMTP, Envelope, Session

DATA_SIZE_LIMIT = 10 * 1024 * 1024
MAX_REQUEST_BODY = 1024 * 1024
HTTP_READ_TIMEOUT = 10.0
HTML_PAGE_LIMIT = 200
SMTP_HOSTNAME = "smtp-sink.local"  # fixed: aiosmtpd would otherwise resolve the FQDN per connection
T = TypeVar("T")


# ---------------------------------------------------------------- messages


def to_header_addresses(raw: bytes) -> list[str]:
    """Addresses in the To header(s), via the cheap compat32 header parser."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    return [addr for _, addr in getaddresses(headers.get_all("to", [])) if addr]


@dataclass
class StoredMessage:
    """An accepted message; summary() parses it once, on the parser thread only."""

    id: str
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    addresses: frozenset[str]  # lower-cased envelope recipients and To header addresses
    received_at: str
    peer: str  # the client's host:port: which SMTP connection brought it
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def receive(cls, msg_id: str, envelope: Envelope, peer: Any) -> StoredMessage:
        """Keep what the SMTP transaction delivered, without parsing the body."""
        raw = envelope.original_content or b""
        rcpt_tos = [str(r) for r in envelope.rcpt_tos]
        try:
            header_tos = to_header_addresses(raw)
        except Exception:  # a sink keeps what it got even if the header is garbage
            header_tos = []
        addresses = frozenset(a.lower() for a in rcpt_tos + header_tos)
        now = time.time()  # milliseconds: benchmarks time the path from a request to the inbox
        received_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        peer_address = ":".join(str(part) for part in peer[:2]) if isinstance(peer, tuple) else str(peer)
        return cls(msg_id, str(envelope.mail_from), rcpt_tos, raw, addresses, received_at, peer_address)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready view; call on the parser thread only."""
        if self._summary is None:
            self._summary = {
                "id": self.id,
                "from": self.mail_from,
                "to": self.rcpt_tos,
                **parse_content(self.raw),
                "received_at": self.received_at,
                "peer": self.peer,
            }
        return self._summary


class CachedHeaderRegistry(HeaderRegistry):
    """A HeaderRegistry that reuses parsed headers (they are immutable)."""

    # policy.default re-parses Content-Type each time it is read, ~25 times a
    # message; caching makes parsing ~5x cheaper with identical results. The cache
    # is small: the values that repeat are the MIME headers and those of the message
    # being parsed. 4,096 entries held ~190,000 parse-tree objects, which every full
    # collection walked, pausing the loop (and so the receipt times) for 30-170 ms.
    @functools.lru_cache(maxsize=64)  # noqa: B019 - one registry lives for the whole process
    def __call__(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)


PARSE_POLICY = policy.default.clone(header_factory=CachedHeaderRegistry())


def parse_content(raw: bytes) -> dict[str, Any]:
    """Subject, date, bodies and headers of a raw message."""
    try:
        msg = message_from_bytes(raw, policy=PARSE_POLICY)
        assert isinstance(msg, EmailMessage)
        headers = header_dict(msg)
        lower = {k.lower(): v for k, v in headers.items()}
        return {
            "subject": lower.get("subject"),
            "date": lower.get("date"),
            "text": part_text(msg.get_body(preferencelist=("plain",))),
            "html": part_text(msg.get_body(preferencelist=("html",))),
            "headers": headers,
        }
    except Exception as exc:  # show the message anyway; raw stays available
        return {
            "subject": None,
            "date": None,
            "text": None,
            "html": None,
            "headers": {},
            "parse_error": repr(exc),
        }


def part_text(part: MIMEPart | None) -> str | None:
    """Decoded text of a MIME part with \\n newlines, tolerating bad charsets."""
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        content = part.get_payload(decode=True)
        content = content.decode("utf-8", "replace") if isinstance(content, bytes) else None
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


def header_dict(msg: EmailMessage) -> dict[str, str]:
    """Header name -> decoded value; repeated headers joined with ', '."""
    headers: dict[str, str] = {}
    names: dict[str, str] = {}  # lower-case name -> first spelling seen
    for name, value in msg.items():
        key = names.setdefault(name.lower(), name)
        headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)
    return headers


# ---------------------------------------------------------------- inbox and faults


@dataclass
class Fault:
    """An injected SMTP failure, returned instead of accepting DATA."""

    code: int
    message: str
    remaining: int | None = None
    expires_at: float | None = None  # time.monotonic() deadline
    recipients: str | None = None  # only transactions to an address containing this
    dsn: bool = False  # accept, then bounce with a delivery status notification

    def applies_to(self, envelope: Envelope) -> bool:
        """True if this transaction is one the fault refuses."""
        return self.recipients is None or any(self.recipients in rcpt.lower() for rcpt in envelope.rcpt_tos)

    def expired(self, now: float) -> bool:
        """True once the count or the time is used up."""
        used_up = self.remaining is not None and self.remaining <= 0
        return used_up or (self.expires_at is not None and now >= self.expires_at)

    def describe(self, now: float) -> dict[str, Any]:
        """The JSON shown by GET /api/fault."""
        left = None if self.expires_at is None else round(max(0.0, self.expires_at - now), 3)
        return {
            "active": True,
            "code": self.code,
            "message": self.message,
            "remaining_count": self.remaining,
            "remaining_seconds": left,
            "recipients": self.recipients,
            "dsn": self.dsn,
        }


def parse_fault(body: bytes, now: float) -> Fault:
    """Validate a PUT /api/fault body; raise ValueError with a reason."""
    try:
        spec = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = set(spec) - {"code", "message", "count", "seconds", "recipients", "dsn"}
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    code = spec.get("code")
    if type(code) is not int or not 400 <= code <= 599:
        raise ValueError("code must be an integer from 400 to 599")
    message = spec.get("message") or ("4.3.0" if code < 500 else "5.0.0") + " Fault injected"
    if not isinstance(message, str) or not message.isprintable():
        raise ValueError("message must be a single-line string")
    remaining = spec.get("count")
    if remaining is not None and (type(remaining) is not int or remaining < 1):
        raise ValueError("count must be a positive integer")
    seconds = spec.get("seconds")
    if seconds is not None and (type(seconds) not in (int, float) or not seconds > 0):
        raise ValueError("seconds must be a positive number")
    recipients = spec.get("recipients")
    if recipients is not None and (not isinstance(recipients, str) or not recipients.strip()):
        raise ValueError("recipients must be a non-empty string")
    dsn = spec.get("dsn", False)
    if type(dsn) is not bool:
        raise ValueError("dsn must be true or false")
    expires_at = None if seconds is None else now + seconds
    return Fault(
        code, message, remaining, expires_at, recipients.strip().lower() if recipients else None, dsn
    )


def delivery_status_notification(envelope: Envelope, fault: Fault) -> bytes:
    """The RFC 3464 bounce of a message the fault hits, as a relay sends it to the envelope sender."""
    first_word = fault.message.split()[0] if fault.message.split() else ""
    status = first_word if first_word[:2] in ("4.", "5.") else f"{fault.code // 100}.0.0"
    failed = [
        str(r) for r in envelope.rcpt_tos if fault.recipients is None or fault.recipients in str(r).lower()
    ]
    action = "failed" if fault.code >= 500 else "delayed"
    boundary = f"dsn-{next(DSN_BOUNDARIES)}-{int(time.time())}"
    original_headers = (envelope.original_content or b"").split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{SMTP_HOSTNAME}>",
        f"To: <{envelope.mail_from}>",
        "Subject: " + ("Undelivered Mail Returned to Sender" if fault.code >= 500 else "Delayed Mail"),
        f"Date: {formatdate()}",
        f"Message-ID: {make_msgid(domain=SMTP_HOSTNAME)}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"This is the mail system at {SMTP_HOSTNAME}. Your message could not be delivered to:",
        *(f"<{address}>: {fault.code} {fault.message}" for address in failed),
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {SMTP_HOSTNAME}",
    ]
    for address in failed:
        lines += ["", f"Final-Recipient: rfc822; {address}", f"Action: {action}", f"Status: {status}",
                  f"Diagnostic-Code: smtp; {fault.code} {fault.message}"]  # fmt: skip
    lines += [
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        original_headers,
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()


DSN_BOUNDARIES = count(1)


@dataclass
class Inbox:
    """Messages, counters and the fault switch; also the aiosmtpd handler."""

    limit: int = 10_000
    messages: OrderedDict[str, StoredMessage] = field(default_factory=OrderedDict)
    received: int = 0
    rejected: int = 0
    fault: Fault | None = None
    bounce_maildir: str | None = None  # where DSNs also go (a Maildir), for `mailer bounces`
    _ids: count[int] = field(default_factory=lambda: count(1))

    def current_fault(self) -> Fault | None:
        """The fault in force, dropping it once expired."""
        if self.fault is not None and self.fault.expired(time.monotonic()):
            self.fault = None
        return self.fault

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message, or refuse the transaction while a fault is set."""
        fault = self.current_fault()
        if fault is not None and fault.applies_to(envelope):
            if fault.remaining is not None:
                fault.remaining -= 1
            self.rejected += 1
            if fault.dsn:
                self.bounce(envelope, fault, session.peer)
                return "250 OK: queued, to be bounced"
            return f"{fault.code} {fault.message}"
        stored = self.store(StoredMessage.receive(str(next(self._ids)), envelope, session.peer))
        return f"250 OK: queued as {stored.id}"

    def store(self, stored: StoredMessage) -> StoredMessage:
        self.messages[stored.id] = stored
        if len(self.messages) > self.limit:
            self.messages.popitem(last=False)
        self.received += 1
        return stored

    def bounce(self, envelope: Envelope, fault: Fault, peer: Any) -> None:
        """Send the sender a DSN: into this inbox, and into the bounce Maildir when there is one."""
        dsn = delivery_status_notification(envelope, fault)
        returned = Envelope()
        returned.mail_from = "<>"
        returned.rcpt_tos = [str(envelope.mail_from)]
        returned.original_content = dsn
        self.store(StoredMessage.receive(str(next(self._ids)), returned, peer))
        if self.bounce_maildir:
            mailbox.Maildir(self.bounce_maildir, create=True).add(dsn)

    def newest_first(self, to: str | None = None) -> list[StoredMessage]:
        """Stored messages, newest first, optionally only those for one address."""
        wanted = to.strip().lower() if to else None
        return [m for m in reversed(self.messages.values()) if wanted is None or wanted in m.addresses]

    def stats(self) -> dict[str, int]:
        """Counters since start."""
        return {"received": self.received, "rejected": self.rejected, "stored": len(self.messages)}


class Parser:
    """The one thread that parses messages, so the loop never blocks on it."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp-sink-parser")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) on the parser thread."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def close(self) -> None:
        """Stop the thread, dropping queued work."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def encode_json(messages: list[StoredMessage]) -> bytes:
    """JSON list of summaries (parser thread)."""
    return json.dumps([m.summary() for m in messages]).encode()


# ---------------------------------------------------------------- HTTP


@dataclass
class Request:
    """A parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes


@dataclass
class Response:
    """An HTTP response to serialise."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """Status line, headers and body; the connection is closed after it."""
        lines = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            "Cache-Control: no-store",
        ]
        if self.status != 204:
            lines.append(f"Content-Type: {self.content_type}")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class HttpError(Exception):
    """An error answered as {"error": message}."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def json_response(status: int, payload: object) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(payload).encode())


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request; None if the client sent nothing."""
    line = await reader.readline()
    if not line.strip():
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
        if len(headers) > 100:
            raise HttpError(431, "too many headers")
    if "transfer-encoding" in headers:
        raise HttpError(501, "chunked request bodies are not supported; send Content-Length")
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise HttpError(400, "bad Content-Length")
    if int(length) > MAX_REQUEST_BODY:
        raise HttpError(413, "request body too large")
    body = await reader.readexactly(int(length))
    url = urlsplit(parts[1])
    return Request(parts[0].upper(), url.path, parse_qs(url.query), body)


Handler = Callable[[Request], Awaitable[Response]]


class InboxApi:
    """Routes HTTP requests to the inbox."""

    def __init__(self, inbox: Inbox, parser: Parser) -> None:
        self.inbox = inbox
        self.parser = parser
        self.routes: dict[str, dict[str, Handler]] = {
            "/": {"GET": self.page},
            "/healthz": {"GET": self.healthz},
            "/api/messages": {"GET": self.list_messages, "DELETE": self.clear_messages},
            "/api/stats": {"GET": self.stats},
            "/api/fault": {"GET": self.get_fault, "PUT": self.put_fault, "DELETE": self.clear_fault},
        }

    async def handle(self, request: Request) -> Response:
        """Dispatch one request."""
        methods = self.routes.get(request.path) or self.message_route(request.path)
        if methods is None:
            raise HttpError(404, f"no such path: {request.path}")
        handler = methods.get(request.method)
        if handler is None:
            raise HttpError(405, "method not allowed", {"Allow": ", ".join(methods)})
        return await handler(request)

    def message_route(self, path: str) -> dict[str, Handler] | None:
        """Routes for /api/messages/<id> and /api/messages/<id>/raw."""
        parts = path.split("/")  # ['', 'api', 'messages', id] or [..., id, 'raw']
        if len(parts) not in (4, 5) or parts[1:3] != ["api", "messages"]:
            return None
        if len(parts) == 5 and parts[4] != "raw":
            return None
        stored = self.inbox.messages.get(parts[3])
        if stored is None:
            raise HttpError(404, f"no message {parts[3]}")
        if len(parts) == 5:
            return {"GET": lambda _: self.raw(stored)}
        return {"GET": lambda _: self.one(stored)}

    async def healthz(self, _: Request) -> Response:
        """Liveness probe."""
        return Response(200, b"ok", "text/plain; charset=utf-8")

    async def list_messages(self, request: Request) -> Response:
        """GET /api/messages[?to=ADDR]."""
        to = request.query.get("to", [None])[-1]
        limit = request.query.get("limit", [str(self.inbox.limit)])[-1]
        if not limit.isdigit():
            raise HttpError(400, "limit must be a non-negative integer")
        chosen = self.inbox.newest_first(to)[: int(limit)]
        return Response(200, await self.parser.run(encode_json, chosen))

    async def clear_messages(self, _: Request) -> Response:
        """DELETE /api/messages."""
        self.inbox.messages.clear()
        return Response(204)

    async def one(self, stored: StoredMessage) -> Response:
        """GET /api/messages/<id>."""
        return json_response(200, await self.parser.run(stored.summary))

    async def raw(self, stored: StoredMessage) -> Response:
        """GET /api/messages/<id>/raw."""
        return Response(200, stored.raw, "message/rfc822")

    async def stats(self, _: Request) -> Response:
        """GET /api/stats."""
        return json_response(200, self.inbox.stats())

    async def get_fault(self, _: Request) -> Response:
        """GET /api/fault."""
        fault = self.inbox.current_fault()
        return json_response(200, fault.describe(time.monotonic()) if fault else {"active": False})

    async def put_fault(self, request: Request) -> Response:
        """PUT /api/fault."""
        try:
            self.inbox.fault = parse_fault(request.body, time.monotonic())
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        return await self.get_fault(request)

    async def clear_fault(self, _: Request) -> Response:
        """DELETE /api/fault."""
        self.inbox.fault = None
        return Response(204)

    async def page(self, _: Request) -> Response:
        """GET /: the inbox as HTML."""
        shown = self.inbox.newest_first()[:HTML_PAGE_LIMIT]
        fault = self.inbox.current_fault()
        notice = "" if fault is None else f"{fault.code} {fault.message}"
        body = await self.parser.run(render_page, shown, len(self.inbox.messages), notice)
        return Response(200, body.encode(), "text/html; charset=utf-8")

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one request per connection."""
        try:
            response = await self.respond(reader)
            if response is not None:
                writer.write(response.encode())
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass  # client went away or stalled: nothing to answer
        except asyncio.CancelledError:
            # Shutdown cancels open connections; nothing awaits this task, and
            # re-raising makes Python 3.11's asyncio.streams print a traceback.
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def respond(self, reader: asyncio.StreamReader) -> Response | None:
        """Read a request and build its response, errors included."""
        try:
            request = await asyncio.wait_for(read_request(reader), HTTP_READ_TIMEOUT)
            return None if request is None else await self.handle(request)
        except HttpError as exc:
            response = json_response(exc.status, {"error": str(exc)})
            response.headers.update(exc.headers)
            return response
        except ValueError:  # a line longer than the reader's limit
            return json_response(431, {"error": "request line or header too long"})


def render_message(m: StoredMessage) -> str:
    """One message as an HTML article (parser thread)."""
    s = m.summary()
    esc = html.escape
    sender = s["headers"].get("From") or s["from"]
    text = s["text"] if s["text"] is not None else "(no text/plain part)"
    return f"""<article>
<h2>{esc(s["subject"] or "(no subject)")}</h2>
<dl><dt>From</dt><dd>{esc(sender)}</dd>
<dt>To</dt><dd>{esc(", ".join(s["to"]))}</dd>
<dt>Date</dt><dd>{esc(s["date"] or s["received_at"])}</dd></dl>
<pre>{esc(text)}</pre>
<p><a href="/api/messages/{m.id}/raw">raw</a> · <a href="/api/messages/{m.id}">json</a></p>
</article>"""


def render_page(shown: list[StoredMessage], total: int, fault: str) -> str:
    """The whole inbox page (parser thread)."""
    notice = ""
    if fault:
        notice = f'<p class="fault">Fault active: mail is refused with {html.escape(fault)}</p>'
    count_line = f"{total} message(s)"
    if total > len(shown):
        count_line += f", newest {len(shown)} shown"
    articles = "\n".join(render_message(m) for m in shown) or "<p>No mail yet.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Local mail inbox</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}}
article{{border:1px solid #ccc;border-radius:4px;padding:0 1em;margin:1em 0}}
dt{{font-weight:bold;float:left;width:4em}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:.5em}}
.fault{{background:#fdd;padding:.5em}}</style></head>
<body><h1>Local mail inbox</h1>{notice}<p>{count_line}</p>
{articles}
</body></html>
"""


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line, with environment defaults."""
    env = os.environ
    parser = argparse.ArgumentParser(description="Local SMTP sink with an HTTP inbox.")
    parser.add_argument("--host", default=env.get("SMTP_SINK_HOST", "127.0.0.1"))
    parser.add_argument("--smtp-port", type=int, default=int(env.get("SMTP_SINK_PORT", "1025")))
    parser.add_argument("--http-port", type=int, default=int(env.get("SMTP_SINK_HTTP_PORT", "8025")))
    parser.add_argument("--max-messages", type=int, default=int(env.get("SMTP_SINK_MAX_MESSAGES", "10000")))
    parser.add_argument(
        "--bounce-maildir",
        default=env.get("SMTP_SINK_BOUNCE_MAILDIR") or None,
        help="also deliver the DSNs of `dsn` faults to this Maildir (created if missing)",
    )
    parser.add_argument(
        "--no-smtputf8",
        action="store_true",
        help="do not offer SMTPUTF8 (RFC 6531), like a server that cannot take non-ASCII addresses",
    )
    return parser.parse_args(argv)


async def serve_until_signal(args: argparse.Namespace, parser: Parser) -> None:
    """Serve SMTP and HTTP until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    inbox = Inbox(limit=args.max_messages, bounce_maildir=args.bounce_maildir)

    def smtp_factory() -> SMTP:
        return SMTP(
            inbox,
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=not args.no_smtputf8,
            hostname=SMTP_HOSTNAME,
            ident="smtp-sink",
            loop=loop,
        )

    smtp_server = await loop.create_server(smtp_factory, args.host, args.smtp_port, backlog=1024)
    http_server = await asyncio.start_server(
        InboxApi(inbox, parser).serve, args.host, args.http_port, backlog=256
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    smtp_port = smtp_server.sockets[0].getsockname()[1]
    http_port = http_server.sockets[0].getsockname()[1]
    print(f"SMTP sink on {args.host}:{smtp_port}, inbox http://{args.host}:{http_port}/", flush=True)
    await stop.wait()
    for server in (smtp_server, http_server):
        server.close()
    # Python >= 3.12 makes wait_closed() wait for idle clients too; don't hang on them.
    with suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(smtp_server.wait_closed(), http_server.wait_closed()), 2)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    parser = Parser()
    try:
        asyncio.run(serve_until_signal(args, parser))
    except OSError as exc:  # typically a port already taken
        print(f"smtp_sink: {exc}", file=sys.stderr)
        return 1
    finally:
        parser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
