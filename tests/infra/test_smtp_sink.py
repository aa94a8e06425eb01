"""The local SMTP sink: deploy/local/smtp_faults.py in front of Mailpit, run as processes on free
ports, read through the testkit's Inbox (Mailpit's API) and switched through the fault handler's API."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import smtplib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.processes import free_port
from tests.support.scripts import load_script
from tests.support.sink import FAULTS, MAILPIT, PrivateSink, faults_command, sink_problem

SENDER = "no-reply@accounts.test"


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


def control(sink: PrivateSink, path: str, method: str = "GET", body: bytes | None = None) -> Any:
    """A JSON answer of the fault handler's control API, expecting 200."""
    status, content_type, answer = http(f"{sink.inbox.faults_url}{path}", method, body)
    assert status == 200, answer
    assert content_type.startswith("application/json")
    return json.loads(answer)


@pytest.fixture(scope="module")
def sink_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSink]:
    folder = tmp_path_factory.mktemp("sink")
    if not MAILPIT.exists():
        pytest.fail(f"{MAILPIT} is missing: make install builds it (deploy/local/build-mailpit.sh)")
    sink = PrivateSink(folder, "--bounce-maildir", str(folder / "bounces"))
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def sink(sink_process: PrivateSink) -> PrivateSink:
    """The module's sink with an empty inbox and no fault."""
    sink_process.inbox.clear()
    sink_process.inbox.clear_fault()
    return sink_process


def make_message(to: str, subject: str, text: str, html_body: str | None = None) -> EmailMessage:
    """A text (and optionally HTML) message from the accounts service."""
    msg = EmailMessage()
    msg["From"] = f"Multimedia Accounts <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Fri, 27 Nov 2026 10:00:00 +0000"
    msg.set_content(text)
    if html_body is not None:
        msg.add_alternative(html_body, subtype="html")
    return msg


def smtp(sink: PrivateSink) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10)


def send(sink: PrivateSink, msg: EmailMessage, rcpts: list[str] | None = None) -> None:
    """Send one message on a fresh connection."""
    with smtp(sink) as client:
        client.send_message(msg, from_addr=SENDER, to_addrs=rcpts)


def subjects(sink: PrivateSink, to: str | None = None) -> list[str]:
    return [m["subject"] for m in sink.inbox.summaries(to)]


def test_a_relayed_message_reads_with_its_envelope_bodies_headers_and_peer(sink: PrivateSink) -> None:
    html_body = "<p>Your code is <b>123456</b></p>\n"
    message = make_message(
        "Alice <alice@example.com>", "Your code: 123456", "Your code is 123456\n", html_body
    )
    with smtp(sink) as client:
        client.send_message(message, from_addr=SENDER)
        client_address = "{}:{}".format(*client.sock.getsockname()[:2])
    send(sink, make_message("bob@example.com", "Welcome Bob", "Hello Bob\n"))

    bob, alice = sink.inbox.messages()

    assert bob["subject"] == "Welcome Bob" and bob["html"] is None
    assert alice["from"] == SENDER and alice["to"] == ["alice@example.com"]
    assert alice["date"] == "Fri, 27 Nov 2026 10:00:00 +0000"
    assert (alice["text"], alice["html"]) == ("Your code is 123456\n", html_body)
    assert alice["headers"]["To"] == "Alice <alice@example.com>"
    assert alice["headers"]["From"] == f"Multimedia Accounts <{SENDER}>"
    assert alice["peer"] == client_address, "the connection that brought it, not the relay's"
    assert alice["received_at"].endswith("Z")
    assert b"Subject: Your code: 1" in sink.inbox.raw(alice["id"])


def test_mailpit_serves_its_web_ui_bundled_by_the_install_step(sink: PrivateSink) -> None:
    """`go install` alone gives a Mailpit whose page loads no script (dist/ is not in the module)."""
    status, _, page = http(f"{sink.inbox.base_url}/")
    assert status == 200 and b"dist/app.js" in page
    for asset in ("app.js", "app.css"):
        status, _, body = http(f"{sink.inbox.base_url}/dist/{asset}")
        assert status == 200 and len(body) > 10_000, asset


def test_to_matches_envelope_and_header_addresses_whole_and_case_insensitively(sink: PrivateSink) -> None:
    send(sink, make_message("alice@example.com", "for alice", "a\n"))
    send(sink, make_message("ba@example.com", "for ba", "b\n"))
    send(sink, make_message("Carol <carol@example.com>", "bcc copy", "c\n"), rcpts=["archive@example.com"])

    assert subjects(sink, "ALICE@example.com") == ["for alice"]
    assert subjects(sink, "a@example.com") == []
    assert subjects(sink, "archive@example.com") == ["bcc copy"]
    assert subjects(sink, "carol@EXAMPLE.com") == ["bcc copy"]
    assert subjects(sink) == ["bcc copy", "for ba", "for alice"]


def test_many_messages_on_one_connection_are_all_relayed(sink: PrivateSink) -> None:
    before = sink.inbox.fault_stats()
    raw = make_message("bulk@example.com", "bulk", "x\n").as_bytes()
    with smtp(sink) as client:
        for _ in range(300):
            client.sendmail(SENDER, ["bulk@example.com"], raw)
    after = sink.inbox.fault_stats()

    assert (after["received"] - before["received"], after["relayed"] - before["relayed"]) == (300, 300)
    assert len(sink.inbox.summaries("bulk@example.com")) == 300


def put_fault(sink: PrivateSink, fault: dict[str, Any]) -> None:
    """Switch a fault on, expecting success."""
    assert control(sink, "/api/fault", "PUT", json.dumps(fault).encode())["active"] is True


def test_fault_with_count_refuses_that_many_transactions(sink: PrivateSink) -> None:
    before = sink.inbox.fault_stats()["rejected"]
    put_fault(sink, {"code": 451, "message": "4.3.0 Try again later", "count": 2})
    msg = make_message("alice@example.com", "retry me", "x\n")

    with smtp(sink) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPResponseException) as refused:
                client.send_message(msg)
            assert refused.value.smtp_code == 451
            assert b"4.3.0 Try again later" in refused.value.smtp_error
        client.send_message(msg)

    assert sink.inbox.fault_stats()["rejected"] - before == 2
    assert control(sink, "/api/fault") == {"faults": []}
    assert subjects(sink) == ["retry me"]


def test_fault_with_seconds_refuses_until_it_expires(sink: PrivateSink) -> None:
    msg = make_message("alice@example.com", "after the outage", "x\n")
    started = time.monotonic()
    put_fault(sink, {"code": 550, "message": "5.7.1 Rejected for a test", "seconds": 1})
    assert [fault["code"] for fault in control(sink, "/api/fault")["faults"]] == [550]

    refusals = 0
    deadline = started + 10
    with smtp(sink) as client:
        while True:
            try:
                client.send_message(msg)
                break
            except smtplib.SMTPResponseException as exc:
                assert exc.smtp_code == 550
                refusals += 1
            assert time.monotonic() < deadline, "fault did not expire"
            time.sleep(0.1)

    assert refusals >= 1
    assert time.monotonic() - started >= 1.0
    assert subjects(sink) == ["after the outage"]


def test_fault_for_some_recipients_refuses_only_theirs(sink: PrivateSink) -> None:
    put_fault(sink, {"code": 550, "message": "5.1.1 No such user", "recipients": "Bounce-"})

    with smtp(sink) as client:
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            client.send_message(make_message("bounce-1@example.com", "refused", "x\n"))
        assert refused.value.smtp_code == 550
        client.send_message(make_message("alice@example.com", "accepted", "x\n"))

    assert [fault["recipients"] for fault in control(sink, "/api/fault")["faults"]] == ["bounce-"]
    assert subjects(sink) == ["accepted"]


def test_faults_for_other_recipients_stand_side_by_side_and_are_cleared_one_by_one(sink: PrivateSink) -> None:
    """Tests sharing a sink each keep their own fault: a PUT or a DELETE of one leaves the others."""
    put_fault(sink, {"code": 550, "message": "5.1.1 No such user", "recipients": "gone-"})
    put_fault(sink, {"code": 451, "message": "4.3.0 Try again later", "recipients": "busy-"})
    put_fault(sink, {"code": 421, "message": "4.7.0 Everyone waits", "count": 1})

    with smtp(sink) as client:
        refusals = {}
        for to in ("gone-1@example.com", "busy-1@example.com", "alice@example.com"):
            with pytest.raises(smtplib.SMTPResponseException) as refused:
                client.send_message(make_message(to, "refused", "x\n"))
            refusals[to] = refused.value.smtp_code
    assert refusals == {"gone-1@example.com": 550, "busy-1@example.com": 451, "alice@example.com": 421}

    assert http(f"{sink.inbox.faults_url}/api/fault?recipients=Gone-", "DELETE")[0] == 204
    assert [fault["recipients"] for fault in control(sink, "/api/fault")["faults"]] == ["busy-"]
    send(sink, make_message("gone-1@example.com", "accepted again", "x\n"))
    with pytest.raises(smtplib.SMTPResponseException) as still:
        send(sink, make_message("busy-1@example.com", "still refused", "x\n"))
    assert still.value.smtp_code == 451
    assert subjects(sink) == ["accepted again"]


def test_a_dsn_fault_accepts_then_bounces_to_the_sender_in_mailpit_and_the_maildir(
    sink: PrivateSink,
) -> None:
    put_fault(sink, {"code": 550, "message": "5.1.1 User unknown", "recipients": "moved-", "dsn": True})
    maildir = mailbox.Maildir(sink.log_dir / "bounces", create=True)
    before = len(maildir)

    send(sink, make_message("moved-1@example.com", "to a closed mailbox", "x\n"))

    assert subjects(sink, "moved-1@example.com") == []
    [dsn] = sink.inbox.messages(SENDER)
    assert dsn["subject"] == "Undelivered Mail Returned to Sender"
    assert dsn["headers"]["Content-Type"].startswith("multipart/report; report-type=delivery-status")
    assert "<moved-1@example.com>: 550 5.1.1 User unknown" in dsn["text"]
    assert len(maildir) == before + 1


def test_a_dsn_fault_bounces_its_recipients_alone_and_relays_the_message_to_the_others(
    sink: PrivateSink,
) -> None:
    """A relay that accepted the message delivers it to every recipient but the ones it bounces."""
    put_fault(sink, {"code": 550, "message": "5.1.1 User unknown", "recipients": "moved-", "dsn": True})

    send(
        sink,
        make_message("team@example.com", "to a team", "x\n"),
        rcpts=["moved-2@example.com", "kept@example.com"],
    )

    assert subjects(sink, "kept@example.com") == ["to a team"]
    assert subjects(sink, "moved-2@example.com") == []
    [dsn] = sink.inbox.messages(SENDER)
    assert "<moved-2@example.com>: 550 5.1.1 User unknown" in dsn["text"]
    assert "kept@example.com" not in dsn["text"]


def test_fault_can_be_cleared(sink: PrivateSink) -> None:
    put_fault(sink, {"code": 421, "message": "4.7.0 Down for a test"})
    assert http(f"{sink.inbox.faults_url}/api/fault", "DELETE")[0] == 204

    send(sink, make_message("alice@example.com", "accepted", "x\n"))

    assert control(sink, "/api/fault") == {"faults": []}
    assert subjects(sink) == ["accepted"]


@pytest.mark.parametrize("query", ["?recipient=busy-", "?recipients=", "?recipients=%20", "?everything"])
def test_a_delete_whose_query_is_not_one_recipients_text_is_refused_and_clears_nothing(
    sink: PrivateSink, query: str
) -> None:
    """Clearing every fault clears other tests' too: a misspelt or empty query must not do it."""
    put_fault(sink, {"code": 451, "message": "4.3.0 Try again later", "recipients": "busy-"})

    status, content_type, answer = http(f"{sink.inbox.faults_url}/api/fault{query}", "DELETE")

    assert status == 400 and content_type.startswith("application/json") and "error" in json.loads(answer)
    assert [fault["recipients"] for fault in control(sink, "/api/fault")["faults"]] == ["busy-"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"code": 250}',
        b'{"code": 451, "count": 0}',
        b'{"code": 451, "colour": "red"}',
        b'{"code": 550, "recipients": " "}',
        b'{"code": 550, "dsn": "yes"}',
    ],
)
def test_bad_fault_requests_are_rejected(sink: PrivateSink, body: bytes) -> None:
    status, content_type, answer = http(f"{sink.inbox.faults_url}/api/fault", "PUT", body)

    assert status == 400
    assert content_type.startswith("application/json")
    assert "error" in json.loads(answer)
    assert control(sink, "/api/fault") == {"faults": []}


def test_unknown_control_path_is_a_json_404(sink: PrivateSink) -> None:
    for method in ("GET", "PUT", "DELETE"):
        status, content_type, body = http(f"{sink.inbox.faults_url}/api/messages", method, b"{}")
        assert status == 404
        assert content_type.startswith("application/json") and "error" in json.loads(body)


def test_a_sink_process_that_exits_at_its_start_is_named_with_its_log(tmp_path: Path) -> None:
    """Not a wait for a sink that will never answer: which process ended, and what it said."""
    sink = PrivateSink(tmp_path, "--no-such-option")
    try:
        with pytest.raises(AssertionError) as failed:
            sink.start()
        left = [process.args[0] for process in sink.processes if process.poll() is None]
    finally:
        sink.stop()
    assert left == [], "a sink that did not start stops what it started (Mailpit here)"
    assert "the fault handler exited with 2" in str(failed.value)
    assert "unrecognized arguments: --no-such-option" in str(failed.value)


def test_a_sink_that_stopped_answering_is_named_for_the_failed_tests_reports(tmp_path: Path) -> None:
    """A test waiting for mail from a dead sink times out saying only that no mail came: its report
    says which part of the sink is down (tests/conftest.py adds this to every failed test's)."""
    sink = PrivateSink(tmp_path)
    sink.start()
    try:
        healthy = sink_problem(sink.inbox, "127.0.0.1", sink.smtp_port)
        sink.processes[1].terminate()  # the fault handler: SMTP and its control API
        sink.processes[1].wait(10)
        down = sink_problem(sink.inbox, "127.0.0.1", sink.smtp_port)
    finally:
        sink.stop()
    assert healthy is None
    assert down is not None
    assert f"nothing answers SMTP at 127.0.0.1:{sink.smtp_port}" in down
    assert f"the fault switch at {sink.inbox.faults_url} does not answer" in down
    assert "Mailpit" not in down, "Mailpit still answers"


def test_mailpit_down_is_a_transient_refusal(tmp_path: Path) -> None:
    sink = PrivateSink(tmp_path)
    sink.start()
    try:
        sink.processes[0].terminate()  # Mailpit; the fault handler stays
        sink.processes[0].wait(10)
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            send(sink, make_message("alice@example.com", "nowhere to go", "x\n"))
    finally:
        sink.stop()
    assert refused.value.smtp_code == 451, "the client keeps it and retries"


def test_a_failure_of_the_sink_itself_is_a_transient_refusal_not_a_permanent_one(tmp_path: Path) -> None:
    """The mail is no less deliverable for the sink's own trouble (here a bounce Maildir it cannot
    make): a 5xx would have the mailer give it up for good (a dead letter), a 4xx has it try again."""
    (tmp_path / "not-a-folder").write_text("")
    sink = PrivateSink(tmp_path, "--bounce-maildir", str(tmp_path / "not-a-folder"))
    sink.start()
    try:
        put_fault(sink, {"code": 550, "message": "5.1.1 User unknown", "dsn": True})
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            send(sink, make_message("alice@example.com", "to be bounced", "x\n"))
    finally:
        sink.stop()
    assert refused.value.smtp_code == 451, refused.value
    assert b"NotADirectoryError" in refused.value.smtp_error or b"FileExistsError" in refused.value.smtp_error
    assert "Traceback" in (tmp_path / "sink.log").read_text(), "what went wrong is in the sink's log"


def test_sigterm_stops_the_fault_handler_cleanly_with_a_client_connected() -> None:
    smtp_port, control_port = free_port(), free_port()
    command = faults_command(smtp_port, control_port, free_port())
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            deadline = time.monotonic() + 20
            while http_down(f"http://127.0.0.1:{control_port}/healthz"):
                assert proc.poll() is None and time.monotonic() < deadline, "the fault handler did not start"
                time.sleep(0.05)
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as idle_client:
                idle_client.noop()
                proc.send_signal(signal.SIGTERM)
                stdout, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    assert stdout.startswith(f"SMTP faults on 127.0.0.1:{smtp_port}, relaying to ")


def http_down(url: str) -> bool:
    try:
        return http(url)[0] != 200
    except OSError:
        return True


class OneRefusalThenAccept:
    """An aiosmtpd handler standing in for Mailpit: the first MAIL gets `reply`, then all is accepted."""

    def __init__(self, reply: str) -> None:
        self.reply: str | None = reply
        self.accepted: list[bytes] = []

    async def handle_MAIL(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
        if self.reply is not None:
            reply, self.reply = self.reply, None
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.accepted.append(envelope.original_content)
        return "250 OK"


@pytest.mark.parametrize(
    ("first_reply", "relayed", "answer"),
    [
        ("421 4.4.2 closing transmission channel after timeout exceeded", True, "250"),
        ("550 5.7.1 refused for a test", False, "550 5.7.1 refused for a test"),
    ],
)
def test_the_relay_reopens_a_connection_mailpit_timed_out_and_passes_other_refusals_back(
    first_reply: str, relayed: bool, answer: str
) -> None:
    faults = load_script(FAULTS, "smtp_faults_under_test")
    fake = OneRefusalThenAccept(first_reply)
    controller = Controller(fake, hostname="127.0.0.1", port=free_port())
    controller.start()
    relay = faults.MailpitRelay("127.0.0.1", controller.port)
    try:
        reply = relay._send(SENDER, ["alice@example.com"], b"Subject: x\r\n\r\nx\r\n", False)
    finally:
        relay._drop()
        relay.close()
        controller.stop()
    assert reply.startswith(answer)
    assert len(fake.accepted) == (1 if relayed else 0)


SMTP_SINK_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "smtp-sink.sh"


def test_stop_and_status_leave_alone_a_process_that_got_a_stale_pid(tmp_path: Path) -> None:
    """After a reboot or a crash the sink's pid files name pids the system hands out again: stop
    must not kill (nor SIGKILL) whatever holds one now, nor status call it the sink."""
    folder = tmp_path / "smtp-sink"
    folder.mkdir()
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        for name in ("mailpit", "faults", "sink"):
            (folder / f"{name}.pid").write_text(f"{bystander.pid}\n")
        environment = {**os.environ, "STATE_DIR": str(tmp_path)}

        def smtp_sink_sh(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", str(SMTP_SINK_SH), command],
                env=environment,
                capture_output=True,
                text=True,
                timeout=30,
            )

        status = smtp_sink_sh("status")
        stopped = smtp_sink_sh("stop")
        assert bystander.poll() is None, "smtp-sink.sh stop killed a process that is not the sink"
    finally:
        bystander.kill()
        bystander.wait()
    assert status.returncode == 1 and "mailpit not running" in status.stdout, status.stdout + status.stderr
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
