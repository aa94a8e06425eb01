#!/usr/bin/env python3
"""The SMTP server the mailer talks to locally: deterministic faults, then Mailpit.

Run:  python deploy/local/smtp_faults.py [--smtp-port 1025] [--control-port 8026]
          [--mailpit-smtp 127.0.0.1:1026] [--bounce-maildir DIR] [--no-smtputf8]
      (env: SMTP_SINK_PORT, SMTP_FAULTS_CONTROL_PORT, MAILPIT_SMTP_PORT, SMTP_SINK_HOST,
       SMTP_SINK_BOUNCE_MAILDIR)

What a fault is and answers (parsing, matching, the DSN) is smtp_fault_rules.py, beside this file.
Every transaction is either refused with the fault in force or relayed, with its envelope, to
Mailpit's SMTP port (deploy/local/smtp-sink.sh starts both), whose inbox people and tests read.
The client's address goes along as an X-Smtp-Peer header: tests tell the mailer's SMTP
connections apart by it. A refusal from Mailpit is passed back as it came; a failure of the
handler's own is a 451 (the client tries again), its traceback in the log.

Control (JSON, on --control-port; served by the standard library's http.server in a thread,
which suits a switch a test flips a few times: no HTTP parsing of ours, no extra dependency):
  PUT    /api/fault   {"code": 451, "message": "4.3.0 Try again later",
                       "count": 50 | "seconds": 5, "recipients": "bounce-", "dsn": false}:
                      answer every DATA with that reply (the message is not relayed) until
                      `count` refusals or `seconds` have passed, whichever comes first;
                      neither given: until cleared. "recipients": only transactions with an
                      envelope recipient containing that text (case-insensitive).
                      "dsn": true accepts the message instead and bounces it, as a relay does:
                      an RFC 3464 delivery status notification with that code and message goes
                      to the envelope sender, through Mailpit and, with --bounce-maildir, into
                      that Maildir (the bounce mailbox `mailer bounces --maildir` reads); the
                      transaction's other recipients get the message.
                      One fault per "recipients" text (and one for every recipient): a PUT
                      replaces only the fault of its own text, so tests that share the sink
                      each keep theirs. A transaction meets the fault of its recipients first,
                      the one for every recipient after.
  GET    /api/fault   {"faults": [the faults in force]}
  DELETE /api/fault   clear every fault (204); ?recipients=TEXT clears that text's only (any
                      other query, or an empty TEXT, is a 400 that clears nothing)
  GET    /api/stats   {"received": N, "rejected": N, "relayed": N}
  GET    /healthz     "ok"
Errors: {"error": "..."} with 400 (bad fault or query) or 404.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mailbox
import os
import signal
import smtplib
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.smtp import SMTP, Envelope, Session
from smtp_fault_rules import SMTP_HOSTNAME, Fault, delivery_status_notification, parse_fault

DATA_SIZE_LIMIT = 10 * 1024 * 1024
RELAY_THREADS = 8  # the mailer's SMTP lanes relay side by side
RELAY_TIMEOUT = 30.0


# ---------------------------------------------------------------- relay


def peer_address(peer: Any) -> str:
    """host:port of an SMTP client."""
    return ":".join(str(part) for part in peer[:2]) if isinstance(peer, tuple) else str(peer)


class MailpitRelay:
    """SMTP connections to Mailpit, one per relay thread, reopened when Mailpit closed them."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.pool = ThreadPoolExecutor(max_workers=RELAY_THREADS, thread_name_prefix="relay")
        self.local = threading.local()

    async def send(self, mail_from: str, rcpt_tos: list[str], data: bytes, utf8: bool) -> str:
        """Relay one message; the SMTP reply to give the client."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._send, mail_from, rcpt_tos, data, utf8)

    def _send(self, mail_from: str, rcpt_tos: list[str], data: bytes, utf8: bool) -> str:
        options = ["SMTPUTF8"] if utf8 else []
        for attempt in (1, 2):
            try:
                self._connection().sendmail(mail_from, rcpt_tos, data, mail_options=options)
                return "250 OK: relayed to Mailpit"
            except smtplib.SMTPRecipientsRefused as exc:
                code, message = next(iter(exc.recipients.values()))
                return f"{code} {message.decode('utf-8', 'replace')}"
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as exc:
                # Mailpit closes a connection idle past its timeout, answering the next command 421.
                closed = not isinstance(exc, smtplib.SMTPResponseException) or exc.smtp_code == 421
                if not closed:
                    return f"{exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')}"
                self._drop()
                if attempt == 2:
                    return "451 4.4.2 Mailpit closed the connection"
            except OSError as exc:
                self._drop()
                return f"451 4.4.1 Mailpit unreachable: {exc}"
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        smtp: smtplib.SMTP | None = getattr(self.local, "smtp", None)
        self.local.smtp = None
        if smtp is not None:
            with suppress(OSError, smtplib.SMTPException):
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = getattr(self.local, "smtp", None)
        if smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=SMTP_HOSTNAME, timeout=RELAY_TIMEOUT)
            self.local.smtp = smtp
        return smtp

    def close(self) -> None:
        """Stop the relay threads."""
        self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class FaultRelay:
    """The aiosmtpd handler: the fault switch, the counters and the relay to Mailpit."""

    relay: MailpitRelay
    bounce_maildir: str | None = None  # where DSNs also go (a Maildir), for `mailer bounces`
    faults: dict[str | None, Fault] = field(default_factory=dict)  # by recipients; None: everyone's
    counters: dict[str, int] = field(default_factory=lambda: {"received": 0, "rejected": 0, "relayed": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)  # the control thread sets faults

    def set_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults[fault.recipients] = fault

    def clear_faults(self, recipients: str | None = None) -> None:
        """Clear the fault of these recipients, or every fault."""
        with self.lock:
            if recipients is None:
                self.faults.clear()
            else:
                self.faults.pop(recipients.strip().lower(), None)

    def describe_faults(self) -> dict[str, Any]:
        """The JSON of GET /api/fault."""
        now = time.monotonic()
        with self.lock:
            return {"faults": [fault.describe(now) for fault in self._current_faults()]}

    def stats(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counters)

    def _current_faults(self) -> list[Fault]:
        """The faults in force, the recipients' own before the one for everyone (expired ones gone)."""
        now = time.monotonic()
        for key in [key for key, fault in self.faults.items() if fault.expired(now)]:
            del self.faults[key]
        return sorted(self.faults.values(), key=lambda fault: fault.recipients is None)

    def _take_fault(self, envelope: Envelope) -> Fault | None:
        """The fault that refuses this transaction, counting the refusal; None to relay it."""
        with self.lock:
            self.counters["received"] += 1
            fault = next((f for f in self._current_faults() if f.applies_to(envelope)), None)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
            self.counters["rejected"] += 1
            return fault

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Refuse the transaction while a fault applies; relay it to Mailpit otherwise."""
        fault = self._take_fault(envelope)
        if fault is not None and not fault.dsn:
            return f"{fault.code} {fault.message}"
        # A `dsn` fault bounces its own recipients; the others get the message, as from a relay.
        rcpt_tos = [str(r) for r in envelope.rcpt_tos if fault is None or not fault.hits(str(r))]
        reply = "250 OK: queued, to be bounced"
        if rcpt_tos:
            peer = f"X-Smtp-Peer: {peer_address(session.peer)}\r\n".encode()
            data = peer + (envelope.original_content or b"")
            reply = await self.relay.send(str(envelope.mail_from), rcpt_tos, data, bool(envelope.smtp_utf8))
            if not reply.startswith("250"):
                return reply  # the client sends it again: no bounce yet, or it would get two
            with self.lock:
                self.counters["relayed"] += 1
        if fault is not None:
            await self.bounce(envelope, fault)
        return reply

    async def handle_exception(self, error: Exception) -> str:
        """A failure of the sink's own: aiosmtpd would answer 500, which has a client give the mail up
        for good; a 451 has it try again. The traceback goes to the log."""
        traceback.print_exception(error, file=sys.stderr)
        detail = " ".join(f"({type(error).__name__}) {error}".split())[:200]
        return f"451 4.3.0 smtp_faults failed: {detail}"

    async def bounce(self, envelope: Envelope, fault: Fault) -> None:
        """Send the sender a DSN: through Mailpit, and into the bounce Maildir when there is one."""
        dsn = delivery_status_notification(envelope, fault)
        await self.relay.send("", [str(envelope.mail_from)], dsn, bool(envelope.smtp_utf8))
        if self.bounce_maildir:
            mailbox.Maildir(self.bounce_maildir, create=True).add(dsn)


# ---------------------------------------------------------------- control


class ControlHandler(BaseHTTPRequestHandler):
    """The fault switch over HTTP; `server.relay` is the FaultRelay."""

    server: ControlServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        routes = {"/api/fault": self.server.relay.describe_faults, "/api/stats": self.server.relay.stats}
        if self.path == "/healthz":
            self.answer(200, b"ok", "text/plain; charset=utf-8")
        elif self.path in routes:
            self.answer_json(200, routes[self.path]())
        else:
            self.answer_json(404, {"error": f"no such path: {self.path}"})

    def do_PUT(self) -> None:  # noqa: N802
        if self.path != "/api/fault":
            self.answer_json(404, {"error": f"no such path: {self.path}"})
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.monotonic()
        try:
            fault = parse_fault(body, now)
        except ValueError as exc:
            self.answer_json(400, {"error": str(exc)})
            return
        self.server.relay.set_fault(fault)
        self.answer_json(200, fault.describe(now))

    def do_DELETE(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path != "/api/fault":
            self.answer_json(404, {"error": f"no such path: {self.path}"})
            return
        # Anything but one recipients text, or none, is refused: clearing every fault clears other tests'.
        fields = parse_qs(query, keep_blank_values=True)
        texts = fields.pop("recipients", [])
        if fields or len(texts) > 1 or (texts and not texts[0].strip()):
            self.answer_json(400, {"error": "give ?recipients=TEXT (not empty), or no query to clear all"})
            return
        self.server.relay.clear_faults(texts[0] if texts else None)
        self.answer(204, b"", None)

    def answer_json(self, status: int, payload: object) -> None:
        self.answer(status, json.dumps(payload).encode(), "application/json")

    def answer(self, status: int, body: bytes, content_type: str | None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: tests flip the switch often."""


class ControlServer(ThreadingHTTPServer):
    """http.server's threading server, knowing the FaultRelay it controls."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], relay: FaultRelay) -> None:
        super().__init__(address, ControlHandler)
        self.relay = relay


# ---------------------------------------------------------------- main


def host_port(value: str) -> tuple[str, int]:
    """HOST:PORT (or PORT alone, on 127.0.0.1)."""
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line, with environment defaults."""
    env = os.environ
    parser = argparse.ArgumentParser(description="SMTP faults in front of Mailpit.")
    parser.add_argument("--host", default=env.get("SMTP_SINK_HOST", "127.0.0.1"))
    parser.add_argument("--smtp-port", type=int, default=int(env.get("SMTP_SINK_PORT", "1025")))
    parser.add_argument("--control-port", type=int, default=int(env.get("SMTP_FAULTS_CONTROL_PORT", "8026")))
    parser.add_argument(
        "--mailpit-smtp", type=host_port, default=host_port(env.get("MAILPIT_SMTP_PORT", "1026")),
        help="Mailpit's SMTP address, HOST:PORT or PORT",
    )  # fmt: skip
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


async def serve_until_signal(args: argparse.Namespace, handler: FaultRelay) -> None:
    """Serve SMTP on the loop and the control API on a thread until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()

    def smtp_factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=not args.no_smtputf8,
            hostname=SMTP_HOSTNAME,
            ident="smtp-faults",
            loop=loop,
        )

    smtp_server = await loop.create_server(smtp_factory, args.host, args.smtp_port, backlog=1024)
    control = ControlServer((args.host, args.control_port), handler)
    threading.Thread(target=control.serve_forever, name="control", daemon=True).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    smtp_port = smtp_server.sockets[0].getsockname()[1]
    mailpit = "{}:{}".format(*args.mailpit_smtp)
    control_url = f"http://{args.host}:{control.server_address[1]}/"
    print(f"SMTP faults on {args.host}:{smtp_port}, relaying to {mailpit}, control {control_url}", flush=True)
    await stop.wait()
    control.shutdown()
    control.server_close()
    smtp_server.close()
    # Python >= 3.12 makes wait_closed() wait for idle clients too; don't hang on them.
    with suppress(TimeoutError):
        await asyncio.wait_for(smtp_server.wait_closed(), 2)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    relay = MailpitRelay(*args.mailpit_smtp)
    try:
        asyncio.run(serve_until_signal(args, FaultRelay(relay, args.bounce_maildir)))
    except OSError as exc:  # typically a port already taken
        print(f"smtp_faults: {exc}", file=sys.stderr)
        return 1
    finally:
        relay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
