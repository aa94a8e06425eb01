"""Resumable uploads (tus 1.0: core, creation, termination) for catalogue editors. The upload's row says
who made it and its length; its bytes collect in the upload area (a folder, or the bucket's multipart
uploads), which says the offset."""

import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prometheus_client import Counter

from accounts_common.auth import Principal
from accounts_common.housekeeping import Schedule
from catalogue.adapters import upload_store
from catalogue.adapters.storage import StorageUnavailable
from catalogue.adapters.upload_area import UploadBusy, append
from catalogue.adapters.upload_store import Upload
from catalogue.bootstrap import Catalogue
from catalogue.service_layer.errors import Conflict, Locked, NotFound, TooLarge

log = logging.getLogger(__name__)
UPLOADED_BYTES = Counter("catalogue_upload_bytes_total", "Bytes received by tus uploads")
EXPIRED_UPLOADS = Counter("catalogue_uploads_expired_total", "Abandoned tus uploads removed")
# A web process clears its own upload folder now and then too: where the transcoder does not see that
# folder (a web pod with a folder of its own), nothing else would.
OWN_FOLDER_SWEEP = Schedule(600.0)


@dataclass(frozen=True)
class UploadState:
    upload: Upload
    offset: int


def expires_at(catalogue: Catalogue, upload: Upload) -> datetime:
    """When the upload goes if no video is made of it (tus expiration: Upload-Expires)."""
    created = upload.created_at or datetime.now(UTC)
    return created + timedelta(seconds=catalogue.settings.upload_expiry_s)


def create(catalogue: Catalogue, principal: Principal, length: int, metadata: str) -> Upload:
    if length > catalogue.settings.max_upload_bytes:
        raise TooLarge(f"An upload may hold at most {catalogue.settings.max_upload_bytes} bytes.")
    upload_id = uuid.uuid4()
    if OWN_FOLDER_SWEEP.due():
        _sweep_own_area(catalogue)
    multipart_upload_id = catalogue.uploads.create(upload_id)
    upload = Upload(
        upload_id, principal.account_id, length, metadata, multipart_upload_id=multipart_upload_id,
        part_bytes=catalogue.uploads.part_size(length),
    )  # fmt: skip
    with catalogue.pool.connection() as conn:
        return upload_store.insert_upload(conn, upload)


def _sweep_own_area(catalogue: Catalogue) -> None:
    """The web process's sweep, run by a creation: one that fails is logged, not the creation's answer
    (expired uploads are refused to clients already; it runs again an interval on, as the transcoder's)."""
    try:
        catalogue.uploads.remove_untouched(catalogue.settings.upload_expiry_s)
    except (StorageUnavailable, OSError) as error:
        log.warning("sweeping the upload area failed; trying again at the next round: %s", error)


def state(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> UploadState:
    """The upload and its offset; NotFound for another editor's upload, one used or terminated."""
    upload = _found(catalogue, principal, upload_id)
    try:
        return UploadState(upload, catalogue.uploads.offset(upload))
    except FileNotFoundError:
        raise NotFound("There is no such upload.") from None


def _found(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> Upload:
    """The caller's upload as its row says, its bytes not asked for; NotFound for another editor's
    upload, one used or expired."""
    with catalogue.pool.connection() as conn:
        upload = upload_store.find_upload(conn, upload_id)
    if upload is None or upload.account_id != principal.account_id or upload.video_id is not None:
        raise NotFound("There is no such upload.")
    if expires_at(catalogue, upload) <= datetime.now(UTC):  # not swept yet, but gone all the same
        raise NotFound("There is no such upload.")
    return upload


def write(
    catalogue: Catalogue, principal: Principal, upload_id: UUID, offset: int, read: Callable[[int], bytes],
    body_length: int | None,
) -> UploadState:  # fmt: skip
    """Append the request's body at `offset` (which must be the upload's); the upload and its new offset.
    The writers' lock comes before any question to the upload area: while another request writes,
    the answer is Locked, whatever the area would say of an upload in the middle of a write (S3Proxy
    fails a listing of the parts while one is on its way: a 503, "try again", for a 423)."""
    upload = _found(catalogue, principal, upload_id)
    try:
        with catalogue.uploads.writer(upload) as file:
            actual = catalogue.uploads.offset(upload)
            room = upload.length - actual
            if body_length is not None and body_length > room:
                raise TooLarge(f"The upload is {upload.length} bytes long: {room} remain.")
            if offset != actual:
                raise Conflict(f"Upload-Offset is {actual}, not {offset}.")
            try:
                copied = append(file, read, room)
            except BaseException:
                _count_kept(catalogue, upload, actual)
                raise
    except UploadBusy:
        raise Locked("Another request is writing to this upload; try again when it ends.") from None
    except FileNotFoundError:  # terminated or expired meanwhile
        raise NotFound("There is no such upload.") from None
    UPLOADED_BYTES.inc(copied)
    return UploadState(upload, actual + copied)


def _count_kept(catalogue: Catalogue, upload: Upload, before: int) -> None:
    """Count what a write that failed kept all the same (the chunks before a full disk or a client gone,
    the parts sent to the bucket), asked of the upload area under the writer's lock; nothing when the
    area cannot tell (gone, or its store failing)."""
    with suppress(OSError, StorageUnavailable):
        UPLOADED_BYTES.inc(max(0, catalogue.uploads.offset(upload) - before))


def terminate(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> None:
    """Forget the upload and its bytes; Locked while a request writes to it (in a bucket, a part it sent
    after the multipart upload was aborted would be kept by some stores). The row goes only with its
    bytes: when the store fails, the upload is still there to terminate again. As for a write, the
    lock comes before any question to the upload area."""
    upload = _found(catalogue, principal, upload_id)
    try:
        with catalogue.uploads.locked(upload):
            catalogue.uploads.offset(upload)  # its bytes gone already (FileNotFoundError): 404, as HEAD says
            with catalogue.pool.connection() as conn, conn.transaction():
                if not upload_store.delete_upload(conn, upload_id):
                    raise NotFound("There is no such upload.")  # a video was made of it meanwhile
                catalogue.uploads.delete(upload)
    except UploadBusy:
        raise Locked("A request is writing to this upload; try again when it ends.") from None
    except FileNotFoundError:  # terminated or expired meanwhile
        raise NotFound("There is no such upload.") from None


def expire_abandoned(catalogue: Catalogue) -> int:
    """Remove the uploads no video was made of within CATALOGUE_UPLOAD_EXPIRY_S: their rows, then their
    bytes, then any file of the upload area untouched that long (one a crash left without its row);
    how many rows and files went. A batch's rows go only with all their bytes: when the store fails,
    they stay for the next sweep (deleting bytes again is harmless), and their row locks keep a
    submission from taking one meanwhile."""
    removed = 0
    while True:
        with catalogue.pool.connection() as conn, conn.transaction():
            expired = upload_store.delete_expired_uploads(conn, catalogue.settings.upload_expiry_s)
            for upload in expired:
                catalogue.uploads.delete(upload)
        removed += len(expired)
        if len(expired) < upload_store.EXPIRY_BATCH:
            break
    removed += catalogue.uploads.remove_untouched(catalogue.settings.upload_expiry_s)
    if removed:
        EXPIRED_UPLOADS.inc(removed)
        log.info("removed %d abandoned upload(s)", removed)
    return removed
