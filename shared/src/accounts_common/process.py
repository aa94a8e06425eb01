"""Running a service's processes: web under gunicorn, workers until SIGTERM."""

import errno
import gc
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable

from prometheus_client import start_http_server


class MustStop(RuntimeError):
    """A failure no retry inside the process can fix (Kafka refusing its login or an ACL): the
    process logs why and exits non-zero, so its supervisor shows it and restarts it later."""


# An email address: a log line keeps it past the erasure of its account, which reaches the services'
# tables and topics but never their logs. Mail servers name the recipient in their replies ("550 5.1.1
# <ana@example.org>: …", in a retry's or a dead letter's reason), the database the row it refused. Its
# characters are those email-validator allows (accounts_common.emails): RFC 5322's atext, the apostrophe
# of "o'brien" too (but not first: an address quoted as 'ana@example.org' keeps its quotes), and any
# non-ASCII one (a vowel sign is a mark, not a \w).
_LOCAL = r"\w.!#$%&*+/=?^`{|}~\u0080-\U0010ffff-"
_LABEL = r"[\w\u0080-\U0010ffff-]+"
# A match starts only where a run of such characters does: tried from each character of a long run
# without an @ (a token, a hex dump), the search took time in the square of the run's length.
ADDRESS = re.compile(rf"(?<![{_LOCAL}])[{_LOCAL}][{_LOCAL}']*@{_LABEL}(?:\.{_LABEL})*")
REDACTED_ADDRESS = "<address>"


class AddressesLeftOut(logging.Formatter):
    """Formats a record, its traceback included, with every email address replaced."""

    def format(self, record: logging.LogRecord) -> str:
        return ADDRESS.sub(REDACTED_ADDRESS, super().format(record))


def configure_logging() -> None:
    """One line per record on stderr, level from LOG_LEVEL (INFO by default), no email address in it."""
    handler = logging.StreamHandler()
    handler.setFormatter(AddressesLeftOut("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler])


class MetricsUnavailable(Exception):
    """The metrics server cannot listen where it is told: the message names the variable to change."""


def serve_metrics(port: int, host: str, *, port_variable: str, host_variable: str) -> None:
    """Serve this process's Prometheus metrics on host:port, from a thread of its own (0: don't);
    MetricsUnavailable, naming the variables that set them, when it cannot listen there."""
    if not port:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.EADDRINUSE:
            fix = f"set {port_variable} to a free port, or 0 to serve none"
        else:  # an address that is not this host's, or a name that does not resolve
            fix = f"check {host_variable}, or set {port_variable} to 0 to serve none"
        message = f"cannot serve metrics on {host}:{port} ({reason[:1].lower()}{reason[1:]}): {fix}"
        raise MetricsUnavailable(message) from None


def freeze_startup_objects() -> None:
    """Put what is alive now (modules, the app, its clients) out of the cyclic collector's reach.

    Every full collection walked these long-lived objects again: pauses of 17-45 ms measured in the
    web workers and the relay under signup load, each one stalling the requests in flight. Frozen
    objects are still freed by reference counting."""
    gc.collect()
    gc.freeze()


def run_until_signalled(work: Callable[[threading.Event], None]) -> None:
    """Run `work(stop)`; SIGTERM or SIGINT sets `stop` so it can finish cleanly."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    freeze_startup_objects()
    try:
        work(stop)
    except MustStop as error:
        logging.getLogger(__name__).critical("%s", error)
        raise SystemExit(1) from None


SHUTDOWN_GRACE_S = 5.0


def run_together(stop: threading.Event, *loops: Callable[[threading.Event], None]) -> None:
    """Run each loop in its own thread; when one ends (or fails), stop them all. The first failure is
    raised again here, once the others have stopped: the process exits non-zero, with its traceback.

    A loop that does not finish within the grace period is left behind as the process exits: a
    consumer still joining its group (after a crash of the previous worker) would otherwise hold
    the exit for the whole session timeout. Nothing is lost: offsets are committed only after work.
    """

    failures: list[Exception] = []

    def guarded(loop: Callable[[threading.Event], None]) -> None:
        try:
            loop(stop)
        except Exception as error:  # noqa: BLE001 - raised again in the calling thread
            failures.append(error)
        finally:
            stop.set()

    threads = [
        threading.Thread(target=guarded, args=(loop,), name=loop.__qualname__, daemon=True) for loop in loops
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if failures:
        raise failures[0]


# How long gunicorn lets its workers finish the requests in flight when told to stop (SIGTERM).
GRACEFUL_TIMEOUT_S = 10


def exec_gunicorn(
    app_factory: str, *, port: int, workers: int, host: str = "127.0.0.1", threads: int = 0
) -> None:
    """Replace this process with gunicorn serving `module:create_app()` with `workers` workers
    (sync workers, or with `threads` threads each when given)."""
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker counts alone; the shared folder lets /metrics add them up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-tmp-dir",
        "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_S),
        "--no-control-socket",  # nothing uses it, and a read-only home could not hold it
        "--config",
        "python:accounts_common.gunicorn_hooks",
        *(["--worker-class", "gthread", "--threads", str(threads)] if threads else []),
        app_factory,
    ]
    os.execv(sys.executable, argv)
