"""An SMTP sink of a test's own: Mailpit behind the SMTP fault handler (deploy/local/smtp_faults.py),
on fixed ports so it can be restarted where it was."""

import smtplib
import subprocess
import sys
from pathlib import Path

from tests.support.inbox import Inbox
from tests.support.polling import wait_for
from tests.support.processes import VENV_BIN, free_port, http_ok

FAULTS = Path(__file__).resolve().parents[2] / "deploy/local/smtp_faults.py"
MAILPIT = VENV_BIN / "mailpit"  # built by `make install` (deploy/local/build-mailpit.sh)


def mailpit_command(http_port: int, smtp_port: int, max_messages: int = 10_000) -> list[str]:
    """Mailpit on loopback ports, asking nothing of the network; with no --database its messages
    are in a temporary file gone when it stops, so a restarted sink starts empty. Stored raw, not
    compressed: Mailpit's zstd is CPU the services under test would otherwise not get (4 KiB mails,
    3,000 through 8 connections: 169-171 a second compressed, 203-255 not, on a busy machine)."""
    return [
        str(MAILPIT),
        *("--listen", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}"),
        *("--max", str(max_messages), "--quiet", "--compression", "0"),
        *("--disable-version-check", "--smtp-disable-rdns"),
    ]


def faults_command(smtp_port: int, control_port: int, mailpit_smtp_port: int, *options: str) -> list[str]:
    """The fault handler on loopback ports, relaying to Mailpit's SMTP port."""
    ports = ["--smtp-port", str(smtp_port), "--control-port", str(control_port)]
    return [sys.executable, str(FAULTS), *ports, "--mailpit-smtp", str(mailpit_smtp_port), *options]


class PrivateSink:
    """Mailpit and the fault handler of this test alone; `options` go to the fault handler.

    Without faults (`faults=False`) mail goes straight to Mailpit: for benchmarks that need no
    refusals, whose figures would otherwise be the fault handler's pace (a Python process relaying
    each mail), not ours."""

    def __init__(self, log_dir: Path, *options: str, max_messages: int = 10_000, faults: bool = True) -> None:
        self.control_port, self.http_port, self.mailpit_smtp_port = free_port(), free_port(), free_port()
        self.smtp_port = free_port() if faults else self.mailpit_smtp_port
        self.faults = faults
        self.log_dir = log_dir
        self.options = options
        self.max_messages = max_messages
        faults_url = f"http://127.0.0.1:{self.control_port}" if faults else None
        self.inbox = Inbox(f"http://127.0.0.1:{self.http_port}", faults_url)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        commands = [mailpit_command(self.http_port, self.mailpit_smtp_port, self.max_messages)]
        if self.faults:
            commands.append(
                faults_command(self.smtp_port, self.control_port, self.mailpit_smtp_port, *self.options)
            )
        with (self.log_dir / "sink.log").open("ab") as log:
            self.processes = [
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT) for command in commands
            ]
        try:
            wait_for(self.ready, timeout=20, what="the private sink (Mailpit and the fault handler)")
        except BaseException:
            self.stop()  # its callers stop it only once it started
            raise

    @property
    def pids(self) -> list[int]:
        """Mailpit's and the fault handler's process ids (what the sink costs, in benchmarks)."""
        return [process.pid for process in self.processes]

    def ready(self) -> bool:
        """Both answer; an AssertionError naming the one that exited, with the log, if one did."""
        for name, process in zip(("Mailpit", "the fault handler"), self.processes, strict=False):
            if process.poll() is not None:
                log = (self.log_dir / "sink.log").read_text(errors="replace").splitlines()[-20:]
                raise AssertionError(f"{name} exited with {process.returncode}:\n" + "\n".join(log))
        mailpit_ready = http_ok(f"{self.inbox.base_url}/readyz")
        return mailpit_ready and (
            self.inbox.faults_url is None or http_ok(f"{self.inbox.faults_url}/healthz")
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                process.wait(10)


def sink_problem(inbox: Inbox, smtp_host: str, smtp_port: int) -> str | None:
    """What of an SMTP sink does not answer (the SMTP port the services send to, the fault switch,
    Mailpit), or None: a test that waited in vain for mail says why in its report."""
    problems = []
    try:
        with smtplib.SMTP(smtp_host, smtp_port, timeout=2) as smtp:
            smtp.noop()
    except (OSError, smtplib.SMTPException) as error:
        problems.append(f"nothing answers SMTP at {smtp_host}:{smtp_port} ({error})")
    if inbox.faults_url and not http_ok(f"{inbox.faults_url}/healthz"):
        problems.append(f"the fault switch at {inbox.faults_url} does not answer")
    if not http_ok(f"{inbox.base_url}/readyz"):
        problems.append(f"Mailpit at {inbox.base_url} does not answer")
    return "; ".join(problems) or None
