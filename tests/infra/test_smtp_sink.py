"""Tests for deploy/local/smtp_sink.py, run as a subprocess on free ports."""

from __future__ import annotations

import gc
import html
import importlib.util
import json
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.support.scripts import load_script

SINK = Path(__file__).resolve().parents[2] / "deploy" / "local" / "smtp_sink.py"
START_TIMEOUT = 20.0


@dataclass
class Sink:
    """A running sink: its ports and process."""

    smtp_port: int
    http_port: int
    proc: subprocess.Popen[str]

    def url(self, path: str) -> str:
        """Absolute URL of an inbox path."""
        return f"http://127.0.0.1:{self.http_port}{path}"

    def smtp(self) -> smtplib.SMTP:
        """A new SMTP connection to the sink."""
        return smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        with exc:  # an unclosed HTTPError leaks its socket (ResourceWarning)
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def get_json(url: str) -> Any:
    """GET a JSON document, expecting 200."""
    status, content_type, body = http(url)
    assert status == 200, body
    assert content_type.startswith("application/json")
    return json.loads(body)


def wait_healthy(sink: Sink) -> None:
    """Poll /healthz until it answers, the process dies, or the deadline passes."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if sink.proc.poll() is not None:
            raise RuntimeError(f"smtp_sink exited with {sink.proc.returncode}")
        try:
            if http(sink.url("/healthz"))[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    raise TimeoutError(f"smtp_sink not healthy after {START_TIMEOUT} s")


@pytest.fixture(scope="module")
def sink_process() -> Iterator[Sink]:
    """One sink for the module, stopped with SIGTERM at the end."""
    if importlib.util.find_spec("aiosmtpd") is None:
        pytest.fail("the SMTP sink needs aiosmtpd: pip install aiosmtpd")
    smtp_port, http_port = free_port(), free_port()
    command = [sys.executable, str(SINK), "--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        sink = Sink(smtp_port, http_port, proc)
        try:
            wait_healthy(sink)
            yield sink
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 0, stderr


@pytest.fixture
def sink(sink_process: Sink) -> Sink:
    """The module's sink with an empty inbox and no fault."""
    assert http(sink_process.url("/api/messages"), "DELETE")[0] == 204
    assert http(sink_process.url("/api/fault"), "DELETE")[0] == 204
    return sink_process


def make_message(to: str, subject: str, text: str, html_body: str | None = None) -> EmailMessage:
    """A text (and optionally HTML) message from the accounts service."""
    msg = EmailMessage()
    msg["From"] = "Multimedia Accounts <no-reply@accounts.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Fri, 27 Nov 2026 10:00:00 +0000"
    msg.set_content(text)
    if html_body is not None:
        msg.add_alternative(html_body, subtype="html")
    return msg


def send(sink: Sink, msg: EmailMessage, rcpts: list[str] | None = None) -> None:
    """Send one message on a fresh connection."""
    with sink.smtp() as smtp:
        smtp.send_message(msg, from_addr="no-reply@accounts.test", to_addrs=rcpts)


def stats(sink: Sink) -> dict[str, int]:
    """The sink's counters."""
    counters: dict[str, int] = get_json(sink.url("/api/stats"))
    return counters


def test_multipart_message_is_listed_with_its_fields(sink: Sink) -> None:
    send(
        sink,
        make_message(
            "Alice <alice@example.com>",
            "Your code: 123456",
            "Your code is 123456\n",
            "<p>Your code is <b>123456</b></p>\n",
        ),
    )
    send(sink, make_message("bob@example.com", "Welcome Bob", "Hello Bob\n"))

    messages = get_json(sink.url("/api/messages"))

    assert [m["subject"] for m in messages] == ["Welcome Bob", "Your code: 123456"]
    alice = messages[1]
    assert isinstance(alice["id"], str)
    assert alice["from"] == "no-reply@accounts.test"
    assert alice["to"] == ["alice@example.com"]
    assert alice["date"] == "Fri, 27 Nov 2026 10:00:00 +0000"
    assert alice["text"] == "Your code is 123456\n"
    assert alice["html"] == "<p>Your code is <b>123456</b></p>\n"
    assert alice["headers"]["To"] == "Alice <alice@example.com>"
    assert alice["headers"]["From"] == "Multimedia Accounts <no-reply@accounts.test>"
    assert messages[0]["html"] is None
    newest = get_json(sink.url("/api/messages?limit=1"))
    assert [m["subject"] for m in newest] == ["Welcome Bob"]


def test_to_filter_matches_envelope_and_header_case_insensitively(sink: Sink) -> None:
    send(sink, make_message("alice@example.com", "for alice", "a\n"))
    send(sink, make_message("bob@example.com", "for bob", "b\n"))
    send(sink, make_message("Carol <carol@example.com>", "bcc copy", "c\n"), rcpts=["archive@example.com"])

    def subjects(address: str) -> list[str]:
        return [m["subject"] for m in get_json(sink.url(f"/api/messages?to={address}"))]

    assert subjects("ALICE@example.com") == ["for alice"]
    assert subjects("archive@example.com") == ["bcc copy"]
    assert subjects("carol@EXAMPLE.com") == ["bcc copy"]
    assert subjects("nobody@example.com") == []


def test_raw_message_is_served_as_rfc822(sink: Sink) -> None:
    send(sink, make_message("alice@example.com", "raw please", "body\n"))
    [message] = get_json(sink.url("/api/messages"))

    status, content_type, body = http(sink.url(f"/api/messages/{message['id']}/raw"))

    assert status == 200
    assert content_type == "message/rfc822"
    assert b"Subject: raw please" in body
    assert http(sink.url("/api/messages/999999/raw"))[0] == 404


def test_delete_empties_the_inbox(sink: Sink) -> None:
    send(sink, make_message("alice@example.com", "to be deleted", "x\n"))
    assert len(get_json(sink.url("/api/messages"))) == 1

    assert http(sink.url("/api/messages"), "DELETE")[0] == 204

    assert get_json(sink.url("/api/messages")) == []


def test_many_messages_on_one_connection(sink: Sink) -> None:
    before = stats(sink)["received"]
    raw = make_message("bulk@example.com", "bulk", "x\n").as_bytes()
    with sink.smtp() as smtp:
        for _ in range(300):
            smtp.sendmail("no-reply@accounts.test", ["bulk@example.com"], raw)
            smtp.rset()
    assert stats(sink)["received"] - before == 300
    assert len(get_json(sink.url("/api/messages?to=bulk@example.com"))) == 300


def put_fault(sink: Sink, fault: dict[str, Any]) -> None:
    """Switch a fault on, expecting success."""
    status, _, body = http(sink.url("/api/fault"), "PUT", json.dumps(fault).encode())
    assert status == 200, body
    assert json.loads(body)["active"] is True


def test_fault_with_count_refuses_that_many_transactions(sink: Sink) -> None:
    before = stats(sink)["rejected"]
    put_fault(sink, {"code": 451, "message": "4.3.0 Try again later", "count": 2})
    msg = make_message("alice@example.com", "retry me", "x\n")

    with sink.smtp() as smtp:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPResponseException) as refused:
                smtp.send_message(msg)
            assert refused.value.smtp_code == 451
            assert b"4.3.0 Try again later" in refused.value.smtp_error
        smtp.send_message(msg)

    assert stats(sink)["rejected"] - before == 2
    assert get_json(sink.url("/api/fault")) == {"active": False}
    assert [m["subject"] for m in get_json(sink.url("/api/messages"))] == ["retry me"]


def test_fault_with_seconds_refuses_until_it_expires(sink: Sink) -> None:
    msg = make_message("alice@example.com", "after the outage", "x\n")
    started = time.monotonic()
    put_fault(sink, {"code": 550, "message": "5.7.1 Rejected for a test", "seconds": 1})
    assert get_json(sink.url("/api/fault"))["code"] == 550

    refusals = 0
    deadline = started + 10
    with sink.smtp() as smtp:
        while True:
            try:
                smtp.send_message(msg)
                break
            except smtplib.SMTPResponseException as exc:
                assert exc.smtp_code == 550
                refusals += 1
            assert time.monotonic() < deadline, "fault did not expire"
            time.sleep(0.1)

    assert refusals >= 1
    assert time.monotonic() - started >= 1.0
    assert len(get_json(sink.url("/api/messages"))) == 1


def test_fault_for_some_recipients_refuses_only_theirs(sink: Sink) -> None:
    put_fault(sink, {"code": 550, "message": "5.1.1 No such user", "recipients": "Bounce-"})

    with sink.smtp() as smtp:
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            smtp.send_message(make_message("bounce-1@example.com", "refused", "x\n"))
        assert refused.value.smtp_code == 550
        smtp.send_message(make_message("alice@example.com", "accepted", "x\n"))

    assert get_json(sink.url("/api/fault"))["recipients"] == "bounce-"
    assert [m["subject"] for m in get_json(sink.url("/api/messages"))] == ["accepted"]


def test_fault_can_be_cleared(sink: Sink) -> None:
    put_fault(sink, {"code": 421, "message": "4.7.0 Down for a test"})
    assert http(sink.url("/api/fault"), "DELETE")[0] == 204

    send(sink, make_message("alice@example.com", "accepted", "x\n"))

    assert get_json(sink.url("/api/fault")) == {"active": False}


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"code": 250}',
        b'{"code": 451, "count": 0}',
        b'{"code": 451, "colour": "red"}',
        b'{"code": 550, "recipients": " "}',
    ],
)
def test_bad_fault_requests_are_rejected(sink: Sink, body: bytes) -> None:
    status, content_type, answer = http(sink.url("/api/fault"), "PUT", body)

    assert status == 400
    assert content_type.startswith("application/json")
    assert "error" in json.loads(answer)
    assert get_json(sink.url("/api/fault")) == {"active": False}


def test_html_inbox_escapes_what_it_shows(sink: Sink) -> None:
    subject = "Code <script>alert(1)</script> & more"
    send(sink, make_message("alice@example.com", subject, "Your code is 654321\n"))

    status, content_type, body = http(sink.url("/"))
    page = body.decode()

    assert status == 200
    assert content_type.startswith("text/html")
    assert "<title>Local mail inbox</title>" in page
    assert html.escape(subject) in page
    assert "<script>" not in page
    assert "Your code is 654321" in page


def test_unknown_path_is_a_json_404(sink: Sink) -> None:
    status, content_type, body = http(sink.url("/nope"))

    assert status == 404
    assert content_type.startswith("application/json")
    assert "error" in json.loads(body)


def test_sigterm_stops_the_sink_cleanly_with_a_client_connected() -> None:
    smtp_port, http_port = free_port(), free_port()
    command = [sys.executable, str(SINK), "--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        sink = Sink(smtp_port, http_port, proc)
        try:
            wait_healthy(sink)
            with sink.smtp() as idle_client:
                idle_client.noop()
                proc.send_signal(signal.SIGTERM)
                stdout, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    assert stdout == (f"SMTP sink on 127.0.0.1:{smtp_port}, inbox http://127.0.0.1:{http_port}/\n")


def load_sink_module() -> Any:
    """deploy/local/smtp_sink.py imported in this process (it is a script, not a package)."""
    return load_script(SINK, "smtp_sink_under_test")


def test_parsing_distinct_messages_keeps_few_objects_for_the_collector() -> None:
    """Each full collection walks every tracked object the sink keeps. A header cache that held
    every parsed header kept ~38 objects per message (pauses of 30-170 ms with 10,000 stored)."""
    sink_module = load_sink_module()
    messages = []
    for n in range(2000):
        message = EmailMessage()
        message["From"] = "Multimedia Accounts <no-reply@accounts.test>"
        message["To"] = f"user{n}@example.com"
        message["Subject"] = f"Your code {n:06d}"
        message["Message-ID"] = f"<{n}@accounts.test>"
        message.set_content(f"Your code is {n:06d}")
        message.add_alternative(f"<p>Your code is {n:06d}</p>", subtype="html")
        messages.append(message.as_bytes())
    gc.collect()
    before = len(gc.get_objects())
    summaries = [sink_module.parse_content(raw) for raw in messages]
    gc.collect()
    kept_per_message = (len(gc.get_objects()) - before) / len(messages)
    assert summaries[-1]["subject"] == "Your code 001999"
    assert kept_per_message < 5
