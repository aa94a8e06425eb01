"""An SMTP sink of a test's own (deploy/local/smtp_sink.py), on fixed ports so it can be restarted."""

import subprocess
import sys
from pathlib import Path

from tests.support.inbox import Inbox
from tests.support.polling import wait_for
from tests.support.processes import free_port, http_ok

SINK = Path(__file__).resolve().parents[2] / "deploy/local/smtp_sink.py"


class PrivateSink:
    """An SMTP sink of this test alone, on fixed ports so it can be restarted where it was."""

    def __init__(self, log_dir: Path, *options: str) -> None:
        self.smtp_port, self.http_port = free_port(), free_port()
        self.log_dir = log_dir
        self.options = options
        self.inbox = Inbox(f"http://127.0.0.1:{self.http_port}")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        ports = ["--smtp-port", str(self.smtp_port), "--http-port", str(self.http_port)]
        with (self.log_dir / "sink.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SINK), *ports, *self.options],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: http_ok(f"{self.inbox.base_url}/healthz"), timeout=20, what="the private sink")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
