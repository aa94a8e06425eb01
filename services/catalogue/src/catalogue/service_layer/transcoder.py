"""The transcoding worker (`catalogue transcoder`): takes one job at a time, probes the master, makes
the renditions, poster, thumbnail and preview, stores them with their SHA-256, and only then lists them
on the video (ready), in one transaction. Jobs are claimed with FOR UPDATE SKIP LOCKED and a lease a
thread of the worker renews for as long as the job runs: two workers never hold one job, and a killed
worker's job is taken again once its lease runs out."""

import functools
import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from prometheus_client import Counter, Gauge

from accounts_common.housekeeping import Schedule
from accounts_common.retry import Backoff
from catalogue.adapters import job_store, transcoding, video_store
from catalogue.adapters.disk import DISK_FULL, is_full
from catalogue.adapters.job_store import Job, Transcoded
from catalogue.adapters.lease_keeper import LeaseKeeper
from catalogue.adapters.storage import MissingFile
from catalogue.adapters.transcoding import NotAVideo, Output, Probe, TranscodeFailed
from catalogue.adapters.video_files import remove_folder
from catalogue.bootstrap import Catalogue
from catalogue.domain.videos import Encoding
from catalogue.service_layer import uploads

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0
# Abandoned uploads are looked for this often: the transcoder is the process beside the upload area
# (the media volume) that already runs in a loop, and an hour past CATALOGUE_UPLOAD_EXPIRY_S is soon enough.
UPLOAD_SWEEP_INTERVAL_S = 600.0
PROGRESS_EVERY_S = 1.0
ENCODING_SHARE = 90  # progress up to 90 while ffmpeg runs; storing and checksums take the rest
HASH_CHUNK = 1024 * 1024
RENEWALS_PER_LEASE = 3  # a renewal or two may fail (a database hiccup) before the lease runs out
# The database or the store down: the loop waits this long at most between tries, and never exits.
OUTAGE_BACKOFF_CAP_S = 60.0

JOBS = Counter("catalogue_transcode_jobs_total", "Transcoding jobs ended, by outcome", ["outcome"])
BUSY = Gauge("catalogue_transcoder_busy", "1 while this worker transcodes", multiprocess_mode="max")


class LeaseLost(Exception):
    """Another worker holds the job now (this one was too slow to renew its lease)."""


class Transcoder:
    def __init__(self, catalogue: Catalogue, worker: str | None = None) -> None:
        self.catalogue = catalogue
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_s = catalogue.settings.transcoder_lease_s

    def run(self, stop: threading.Event, sweep_interval_s: float = UPLOAD_SWEEP_INTERVAL_S) -> None:
        """Take and do jobs until `stop` is set; between them, remove abandoned uploads now and then.
        Nothing that goes wrong ends the loop: an outage is waited out with a growing backoff."""
        log.info("transcoder %s started", self.worker)
        sweep = Schedule(sweep_interval_s)
        backoff = Backoff(base=1.0, cap=OUTAGE_BACKOFF_CAP_S)
        while not stop.is_set():
            if sweep.due():
                self._sweep()
            try:
                worked = self.run_once(stop)
            except Exception:
                log.exception("transcoder %s could not take or settle a job; trying again", self.worker)
                stop.wait(backoff.next())
                continue
            backoff.reset()
            if not worked:
                stop.wait(IDLE_POLL_S)

    def _sweep(self) -> None:
        try:
            uploads.expire_abandoned(self.catalogue)
        except Exception:
            # Expired uploads are already refused to clients: the next round, one interval on, is soon enough.
            log.exception("removing abandoned uploads failed; trying again at the next round")

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Do the next job, if there is one; whether there was."""
        with self.catalogue.pool.connection() as conn:
            job = job_store.claim_job(conn, self.worker, self.lease_s)
        if job is None:
            return False
        log.info("transcoding video %s (attempt %d)", job.video_id, job.attempts)
        BUSY.set(1)
        try:
            self._do(job, stop or threading.Event())
        finally:
            BUSY.set(0)
        return True

    def _do(self, job: Job, stop: threading.Event) -> None:
        if job.attempts > self.catalogue.settings.transcoder_max_attempts:
            self._fail(job, f"Transcoding was interrupted {job.attempts - 1} times; giving up.")
            return
        with LeaseKeeper(functools.partial(self._extend, job), self.lease_s / RENEWALS_PER_LEASE) as lease:
            self._do_held(job, stop, lease)

    def _do_held(self, job: Job, stop: threading.Event, lease: LeaseKeeper) -> None:
        try:
            with self.catalogue.storage.local_path(job.master_key) as master:
                self._check_lease(job, lease)
                done = self._transcode(job, master, stop, lease)
        except NotAVideo as refused:
            self._fail(job, str(refused))
            return
        except MissingFile:
            self._fail(job, "The uploaded master is missing from storage.")
            return
        except (LeaseLost, TranscodeFailed) as stopped:
            if stop.is_set():
                self._release(job)
            elif isinstance(stopped, TranscodeFailed):
                self._fail(job, f"ffmpeg failed: {stopped}")
            else:
                JOBS.labels("lease-lost").inc()
                log.warning("lost the lease of video %s to another worker", job.video_id)
                self._forget_if_deleted(job)
            return
        except Exception as error:
            if is_full(error):
                self._wait_for_room(job, error, stop)
            else:
                self._retry_or_fail(job, error, stop)
            return
        with self.catalogue.pool.connection() as conn, conn.transaction():
            held = job_store.hold_job(conn, job, self.worker)
            if held:
                job_store.finish_job(conn, job, done)
        if not held:
            JOBS.labels("lease-lost").inc()
            self._forget_if_deleted(job)
            return
        JOBS.labels("ready").inc()
        log.info("video %s is ready", job.video_id)

    def _transcode(self, job: Job, master: Path, stop: threading.Event, lease: LeaseKeeper) -> Transcoded:
        source = transcoding.probe(master)
        self._progress(job, 1)
        with tempfile.TemporaryDirectory(prefix="transcode-") as scratch:
            folder = Path(scratch)
            outputs = transcoding.renditions_for(source, folder)
            preview = folder / "preview.mp4"
            last, held = [time.monotonic()], [True]

            def on_progress(fraction: float) -> bool:
                if stop.is_set() or lease.lost.is_set():
                    return False
                if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                    last[0] = time.monotonic()
                    held[0] = self._progress(job, 1 + int(fraction * (ENCODING_SHARE - 1)), raise_lost=False)
                return held[0]

            try:
                transcoding.encode(master, source, outputs, preview, on_progress)
            except TranscodeFailed:
                if not held[0] or lease.lost.is_set():
                    raise LeaseLost(str(job.video_id)) from None
                raise
            if stop.is_set():
                raise TranscodeFailed("stopped")
            poster, thumbnail = folder / "poster.jpg", folder / "thumbnail.jpg"
            at = min(source.duration_s / 10, 5.0)
            transcoding.still(master, at, 1920, poster)
            transcoding.still(master, at, 640, thumbnail)
            self._check_lease(job, lease)
            self._progress(job, ENCODING_SHARE)
            extras = {"poster.jpg": poster, "thumbnail.jpg": thumbnail, "preview.mp4": preview}
            return self._store(job, master, source, outputs, extras, lease)

    def _store(
        self, job: Job, master: Path, source: Probe, outputs: list[Output], extras: dict[str, Path],
        lease: LeaseKeeper,
    ) -> Transcoded:  # fmt: skip
        """Put every output in storage (each whole or not at all) and describe the renditions, the
        master first as the broadcast rendition."""
        prefix = f"videos/{job.video_id}"
        rendition_ids = uuid.uuid5(job.video_id, "renditions")
        broadcast = Encoding(f"Broadcast master ({source.container.upper()})", source.container, source.codec,
                             source.width, source.height, source.bitrate)  # fmt: skip
        renditions = [
            broadcast.rendition(
                uuid.uuid5(rendition_ids, "master"), master.stat().st_size, sha256_of(master), job.master_key
            )
        ]
        for output in outputs:
            key = f"{prefix}/{output.height}p.mp4"
            self._put(job, lease, key, output.path)
            width, height = _picture_size(output.path)
            encoding = Encoding(
                output.label, "mp4", "h264", width, height, output.bitrate + transcoding.AUDIO_BITRATE
            )
            renditions.append(
                encoding.rendition(
                    uuid.uuid5(rendition_ids, output.label),
                    output.path.stat().st_size,
                    sha256_of(output.path),
                    key,
                )
            )
            self._progress(job, ENCODING_SHARE + 2 * len(renditions))
        for name, path in extras.items():
            self._put(job, lease, f"{prefix}/{name}", path)
        return Transcoded(source.duration_s, renditions, f"{prefix}/poster.jpg", f"{prefix}/thumbnail.jpg",
                          f"{prefix}/preview.mp4")  # fmt: skip

    def _put(self, job: Job, lease: LeaseKeeper, key: str, path: Path) -> None:
        self._check_lease(job, lease)
        with path.open("rb") as file:
            self.catalogue.storage.put(key, file)

    def _check_lease(self, job: Job, lease: LeaseKeeper) -> None:
        """LeaseLost once another worker holds the job: this one's work would be thrown away."""
        if lease.lost.is_set():
            raise LeaseLost(str(job.video_id))

    def _extend(self, job: Job) -> bool:
        with self.catalogue.pool.connection() as conn:
            return job_store.extend_lease(conn, job, self.worker, self.lease_s)

    def _progress(self, job: Job, percent: int, raise_lost: bool = True) -> bool:
        with self.catalogue.pool.connection() as conn:
            held = job_store.renew_lease(conn, job, self.worker, self.lease_s, min(99, percent))
        if not held and raise_lost:
            raise LeaseLost(str(job.video_id))
        return held

    def _forget_if_deleted(self, job: Job) -> None:
        """The job was lost to the video's deletion (removal.delete): what this worker stored of it
        meanwhile goes too, or nothing would ever remove it."""
        with self.catalogue.pool.connection() as conn:
            if video_store.video_exists(conn, job.video_id):
                return
        log.info("video %s was deleted while it was transcoded: removing what was stored of it", job.video_id)
        remove_folder(self.catalogue.storage, job.video_id)

    def _fail(self, job: Job, reason: str) -> None:
        log.warning("video %s failed: %s", job.video_id, reason)
        with self.catalogue.pool.connection() as conn, conn.transaction():
            if job_store.hold_job(conn, job, self.worker):
                job_store.fail_job(conn, job.video_id, reason)
        JOBS.labels("failed").inc()

    def _retry_or_fail(self, job: Job, error: Exception, stop: threading.Event) -> None:
        """Something unforeseen stopped the job (the store or the database down, a timeout):
        it is tried again a lease later, and fails with that reason once its attempts are used up."""
        log.error("transcoding video %s failed (attempt %d)", job.video_id, job.attempts, exc_info=error)
        if stop.is_set():
            self._release(job)
        elif job.attempts < self.catalogue.settings.transcoder_max_attempts:
            with self.catalogue.pool.connection() as conn:
                job_store.release_job(conn, job, self.worker, retry_after_s=self.lease_s)
            JOBS.labels("retried").inc()
        else:
            self._fail(job, f"Transcoding failed {job.attempts} times; the last time: {describe(error)}")

    def _wait_for_room(self, job: Job, error: Exception, stop: threading.Event) -> None:
        """A full disk or quota (the working folder, the storage) is no fault of the video's: the job is
        given back to be taken again a lease later, and the attempt does not count, however long the
        disk stays full (catalogue_disk_full_total and the log say so meanwhile)."""
        log.error("no room on disk to transcode video %s; trying again later: %s", job.video_id, error)
        DISK_FULL.labels("transcoder").inc()
        if stop.is_set():
            self._release(job)
            return
        with self.catalogue.pool.connection() as conn:
            job_store.release_job(conn, job, self.worker, retry_after_s=self.lease_s, counted=False)
        JOBS.labels("disk-full").inc()

    def _release(self, job: Job) -> None:
        """The worker stops: the job goes back at once, and this attempt does not count against it."""
        with self.catalogue.pool.connection() as conn:
            job_store.release_job(conn, job, self.worker, counted=False)
        JOBS.labels("released").inc()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe(error: Exception) -> str:
    """An error in words for the editor: its kind and its message."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _picture_size(path: Path) -> tuple[int, int]:
    found = transcoding.probe(path)
    return found.width, found.height
