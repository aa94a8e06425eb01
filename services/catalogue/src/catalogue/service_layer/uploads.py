"""Resumable uploads (tus 1.0: core, creation, termination) for catalogue editors. The upload's row says
who made it and its length; its bytes collect in the upload area, whose file size is the offset."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from prometheus_client import Counter

from accounts_common.auth import Principal
from catalogue.adapters import repository
from catalogue.adapters.repository import Upload
from catalogue.adapters.upload_area import UploadBusy, append
from catalogue.bootstrap import Catalogue
from catalogue.service_layer.errors import Conflict, Locked, NotFound, TooLarge

UPLOADED_BYTES = Counter("catalogue_upload_bytes_total", "Bytes received by tus uploads")


@dataclass(frozen=True)
class UploadState:
    upload: Upload
    offset: int


def create(catalogue: Catalogue, principal: Principal, length: int, metadata: str) -> Upload:
    if length > catalogue.settings.max_upload_bytes:
        raise TooLarge(f"An upload may hold at most {catalogue.settings.max_upload_bytes} bytes.")
    upload = Upload(uuid.uuid4(), principal.account_id, length, metadata)
    catalogue.uploads.create(upload.id)
    with catalogue.pool.connection() as conn:
        repository.insert_upload(conn, upload)
    return upload


def state(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> UploadState:
    """The upload and its offset; NotFound for another editor's upload, one used or terminated."""
    with catalogue.pool.connection() as conn:
        upload = repository.find_upload(conn, upload_id)
    if upload is None or upload.account_id != principal.account_id or upload.video_id is not None:
        raise NotFound("There is no such upload.")
    try:
        return UploadState(upload, catalogue.uploads.offset(upload_id))
    except FileNotFoundError:
        raise NotFound("There is no such upload.") from None


def write(
    catalogue: Catalogue, principal: Principal, upload_id: UUID, offset: int, read: Callable[[int], bytes],
    body_length: int | None,
) -> int:  # fmt: skip
    """Append the request's body at `offset` (which must be the upload's); the new offset."""
    current = state(catalogue, principal, upload_id)
    room = current.upload.length - current.offset
    if body_length is not None and body_length > room:
        raise TooLarge(f"The upload is {current.upload.length} bytes long: {room} remain.")
    try:
        with catalogue.uploads.writer(upload_id) as file:
            # Read again under the lock: another request may have written since.
            actual = catalogue.uploads.offset(upload_id)
            if offset != actual:
                raise Conflict(f"Upload-Offset is {actual}, not {offset}.")
            copied = append(file, read, current.upload.length - actual)
    except UploadBusy:
        raise Locked("Another request is writing to this upload; try again when it ends.") from None
    UPLOADED_BYTES.inc(copied)
    return actual + copied


def terminate(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> None:
    state(catalogue, principal, upload_id)
    with catalogue.pool.connection() as conn:
        repository.delete_upload(conn, upload_id)
    catalogue.uploads.delete(upload_id)
