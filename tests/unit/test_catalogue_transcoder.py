"""The transcoder's loop with its database and storage faked: whatever goes wrong in a job (the store or
the database down, an I/O error, a still that times out) is logged, the job tried again later or failed
with that reason, and the loop goes on; an outage between jobs is waited out, never fatal. The job's
lease is renewed for as long as it runs, and a lease lost stops the work."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from catalogue.adapters import job_store, transcoding, video_store
from catalogue.adapters.job_store import Job
from catalogue.adapters.lease_keeper import LeaseKeeper
from catalogue.adapters.storage import StorageUnavailable
from catalogue.service_layer import transcoder, uploads
from catalogue.service_layer.transcoder import Transcoder
from tests.support.polling import wait_for

MAX_ATTEMPTS = 3


class Pool:
    @contextmanager
    def connection(self) -> Iterator[Any]:
        yield SimpleNamespace(transaction=contextmanager(lambda: iter([None])))


class Jobs:
    """job_store's calls as a list of what happened to the jobs handed out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *jobs: Job | Exception) -> None:
        self.waiting = list(jobs)
        self.events: list[tuple[str, Any]] = []
        monkeypatch.setattr(job_store, "claim_job", self.claim)
        monkeypatch.setattr(job_store, "release_job", self.release)
        monkeypatch.setattr(job_store, "hold_job", lambda conn, job, worker: True)
        monkeypatch.setattr(
            job_store, "fail_job", lambda conn, video_id, reason: self.events.append(("failed", reason))
        )
        monkeypatch.setattr(job_store, "renew_lease", lambda *args: True)
        monkeypatch.setattr(video_store, "video_exists", lambda conn, video_id: True)  # not deleted
        self.extended = 0
        self.lease_held = True
        monkeypatch.setattr(job_store, "extend_lease", self.extend)

    def extend(self, conn: Any, job: Job, worker: str, lease_s: float) -> bool:
        self.extended += 1
        return self.lease_held

    def claim(self, conn: Any, worker: str, lease_s: int) -> Job | None:
        if not self.waiting:
            return None
        job = self.waiting.pop(0)
        if isinstance(job, Exception):
            raise job
        return job

    def release(
        self, conn: Any, job: Job, worker: str, retry_after_s: float = 0, *, counted: bool = True
    ) -> None:
        self.events.append(("released" if counted else "given back", retry_after_s))


class Storage:
    """A store whose downloads fail with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        raise self.error
        yield Path(key)


def make_transcoder(error: Exception, storage: Any = None, lease_s: float = 60) -> Transcoder:
    settings = SimpleNamespace(transcoder_lease_s=lease_s, transcoder_max_attempts=MAX_ATTEMPTS)
    storage = storage or Storage(error)
    return Transcoder(SimpleNamespace(pool=Pool(), storage=storage, settings=settings), "w1")  # type: ignore[arg-type]


def job(attempts: int) -> Job:
    return Job(uuid.uuid4(), attempts, "uploads/abc")


class Rounds(threading.Event):
    """A stop event that never sleeps and is set after `rounds` waits; the waits are kept."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds, self.waits = rounds, []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.rounds:
            self.set()
        return self.is_set()


@pytest.mark.parametrize(
    "error",
    [
        StorageUnavailable("s3://bucket/uploads/abc: connection reset"),
        OSError(5, "Input/output error"),  # a full disk is no attempt: test_catalogue_disk_full.py
        subprocess.TimeoutExpired(["ffmpeg"], 120),
        psycopg.OperationalError("server closed the connection unexpectedly"),
    ],
)
def test_an_unforeseen_error_gives_the_job_back_for_later(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    jobs = Jobs(monkeypatch, job(attempts=1))
    assert make_transcoder(error).run_once(threading.Event()) is True
    assert jobs.events == [("released", 60)]  # a lease later, not at once: the outage may pass


def test_the_last_attempt_fails_the_job_with_the_real_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = Jobs(monkeypatch, job(attempts=MAX_ATTEMPTS))
    make_transcoder(StorageUnavailable("s3://bucket/uploads/abc: connection reset")).run_once(
        threading.Event()
    )
    [(outcome, reason)] = jobs.events
    assert outcome == "failed"
    assert "StorageUnavailable: s3://bucket/uploads/abc: connection reset" in reason
    assert "interrupted" not in reason


def test_a_stopping_worker_gives_the_job_back_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = Jobs(monkeypatch, job(attempts=1))
    stopping = threading.Event()
    stopping.set()
    make_transcoder(OSError("disk full")).run_once(stopping)
    assert jobs.events == [("given back", 0)]  # the attempt does not count: the worker stopped


def test_the_loop_outlives_a_database_outage_and_a_failing_job(monkeypatch: pytest.MonkeyPatch) -> None:
    down = psycopg.OperationalError("connection refused")
    jobs = Jobs(monkeypatch, down, down, job(attempts=1), job(attempts=MAX_ATTEMPTS))
    stop = Rounds(rounds=3)
    make_transcoder(StorageUnavailable("throttled")).run(stop, sweep_interval_s=0)
    assert [event for event, _ in jobs.events] == ["released", "failed"]
    assert jobs.waiting == []
    first, second, idle = stop.waits
    assert 0 < first <= 1.0 and 0 < second <= 2.0  # a growing backoff while the database is down
    assert idle == transcoder.IDLE_POLL_S  # then, jobs done, the usual poll


def test_a_failing_sweep_leaves_the_loop_running(monkeypatch: pytest.MonkeyPatch) -> None:
    def sweep(catalogue: Any) -> int:
        raise StorageUnavailable("s3://bucket: connection reset")

    monkeypatch.setattr(uploads, "expire_abandoned", sweep)
    monkeypatch.setattr(transcoder.Schedule, "due", lambda self: True)
    jobs = Jobs(monkeypatch, job(attempts=1))
    stop = Rounds(rounds=2)
    make_transcoder(OSError("disk full")).run(stop)
    assert jobs.events == [("released", 60)] and len(stop.waits) == 2


def keeper_running() -> bool:
    return any(thread.name == "lease-keeper" for thread in threading.enumerate())


class SlowDownload:
    """A master whose download lasts until `done()` says it is over, then yields a path."""

    def __init__(self, done: Any) -> None:
        self.done = done

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        wait_for(self.done, timeout=5, what="the download to end")
        yield Path(key)


def test_the_lease_is_renewed_while_the_master_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = Jobs(monkeypatch, job(attempts=1))

    def probe(path: Path) -> None:
        raise OSError("no space left for ffprobe")  # ends the job once the download is done

    monkeypatch.setattr(transcoding, "probe", probe)
    worker = make_transcoder(OSError("unused"), SlowDownload(lambda: jobs.extended >= 3), lease_s=0.03)
    assert worker.run_once(threading.Event()) is True
    assert jobs.extended >= 3 and jobs.events == [("released", 0.03)]
    assert not keeper_running()  # the renewals end with the job


def test_a_lease_lost_during_the_download_stops_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = Jobs(monkeypatch, job(attempts=1))
    jobs.lease_held = False  # another worker took the job meanwhile
    probed: list[Path] = []
    monkeypatch.setattr(transcoding, "probe", probed.append)
    worker = make_transcoder(
        OSError("unused"), SlowDownload(lambda: jobs.extended and not keeper_running()), 0.03
    )
    assert worker.run_once(threading.Event()) is True
    assert probed == [] and jobs.events == []  # nothing more done, nothing settled: the job is the other's


def test_a_renewal_that_fails_is_tried_again() -> None:
    answers: list[Any] = [psycopg.OperationalError("connection lost"), True, False]

    def renew() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    with LeaseKeeper(renew, 0.001) as lease:
        assert lease.lost.wait(timeout=5)
    assert answers == []


ENDLESS_FFMPEG = """
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
while True:
    print("out_time_us=1000000", flush=True)
    time.sleep(0.05)
"""


def test_ffmpeg_is_stopped_when_reporting_its_progress_fails(tmp_path: Path) -> None:
    """Recording the progress may fail (the database down): the job is given back, and its ffmpeg must
    not go on encoding for nobody beside the next job's."""
    pid_file = tmp_path / "pid"

    def progress_not_recorded(fraction: float) -> bool:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    command = [sys.executable, "-c", ENDLESS_FFMPEG, str(pid_file)]
    with pytest.raises(psycopg.OperationalError):
        transcoding._run_following(command, 10.0, progress_not_recorded)
    pid = int(pid_file.read_text())
    try:
        with pytest.raises(ProcessLookupError):  # killed and reaped
            os.kill(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
