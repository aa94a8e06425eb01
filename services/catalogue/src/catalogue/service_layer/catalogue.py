"""The catalogue's use cases: ingest, browse and search, grant a download, open a granted file."""

import logging
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO
from uuid import UUID

from prometheus_client import Counter

from accounts_common.account_projection import known_account_email, remember_verified_account
from accounts_common.auth import Principal, act_for
from catalogue.adapters import grant_store, video_store
from catalogue.adapters.grant_store import Grant
from catalogue.adapters.storage import MissingFile, UnsafeKey
from catalogue.adapters.video_store import SearchPage
from catalogue.bootstrap import Catalogue
from catalogue.domain import links
from catalogue.domain.videos import (
    NewRendition,
    NewVideo,
    Rendition,
    SearchQuery,
    Status,
    Video,
    download_filename,
)
from catalogue.service_layer.errors import (
    FileUnavailable,
    InvalidIngest,
    LinkExpired,
    LinkInvalid,
    NotEntitled,
    NotFound,
)
from catalogue.service_layer.publishing import announce_import

log = logging.getLogger(__name__)

GRANTS = Counter("catalogue_download_grants_total", "Download links handed out")
DOWNLOADS = Counter("catalogue_downloads_total", "Downloads started, counted once per link")


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Download:
    """A granted file, ready to be sent (or handed to the front proxy by its key)."""

    rendition: Rendition
    filename: str


def search(catalogue: Catalogue, query: SearchQuery) -> SearchPage:
    with catalogue.pool.connection() as conn:
        return video_store.search_videos(conn, query)


def video(catalogue: Catalogue, video_id: UUID, *, everything: bool = False) -> Video:
    """A video; NotFound when there is none, or it is not published and `everything` is not allowed."""
    with catalogue.pool.connection() as conn:
        found = video_store.find_video(conn, video_id)
    if found is None or not (everything or found.status is Status.PUBLISHED):
        raise NotFound("There is no such video.")
    return found


def ingest(catalogue: Catalogue, principal: Principal, new: NewVideo) -> Video:
    """Register and publish a video whose files are already encoded and in storage (the samples, tests,
    an older archive); sizes (and missing checksums) are read."""
    errors: dict[str, list[str]] = {}
    renditions = []
    for index, rendition in enumerate(new.renditions):
        stored = _stored_rendition(catalogue, rendition, f"renditions.{index}.path", errors)
        if stored is not None:
            renditions.append(stored)
    if new.thumbnail_key is not None:
        _check_stored(catalogue, new.thumbnail_key, "thumbnail", errors)
    if errors:
        raise InvalidIngest("Some files are not in storage; see errors.", errors)
    created = new.stored(uuid.uuid4(), renditions)
    with catalogue.pool.connection() as conn, conn.transaction():
        video_store.insert_video(conn, created)
        announce_import(conn, catalogue, principal, created)
    return created


def _stored_rendition(
    catalogue: Catalogue, rendition: NewRendition, field: str, errors: dict[str, list[str]]
) -> Rendition | None:
    size = _check_stored(catalogue, rendition.storage_key, field, errors)
    if size is None:
        return None
    try:
        checksum = rendition.checksum or catalogue.storage.checksum(rendition.storage_key)
    except MissingFile:  # there, but not readable
        errors[field] = ["The file stored at this path cannot be read."]
        return None
    return rendition.stored(uuid.uuid4(), size, checksum)


def _check_stored(catalogue: Catalogue, key: str, field: str, errors: dict[str, list[str]]) -> int | None:
    """The stored file's size, or None with the reason added to `errors`."""
    try:
        return catalogue.storage.size(key)
    except UnsafeKey:
        errors[field] = ["Must be a relative path inside the storage root."]
    except MissingFile:
        errors[field] = ["No file is stored at this path."]
    return None


def grant_download(
    catalogue: Catalogue, principal: Principal, video_id: UUID, rendition_id: UUID, base_url: str
) -> DownloadLink:
    """A signed, expiring link to one rendition for a verified account this service knows."""
    now = catalogue.clock()
    expires = int(now.timestamp()) + catalogue.settings.link_lifetime_s
    grant = Grant(uuid.uuid4(), rendition_id, datetime.fromtimestamp(expires, UTC))
    with catalogue.pool.connection() as conn, conn.transaction():
        act_for(conn, principal)  # a link of a token revoked since its check would outlive it
        # The token's signed email_verified claim may arrive before the AccountVerified event does.
        if principal.email_verified:
            remember_verified_account(
                conn, principal.account_id, principal.email, principal.issued_at, principal.locale
            )
        if known_account_email(conn, principal.account_id) is None:
            raise NotEntitled("This account may not download videos.")
        if not video_store.published_rendition_exists(conn, video_id, rendition_id):
            raise NotFound("There is no such video or rendition.")
        grant_store.insert_grant(conn, grant, principal.account_id, principal.issued_at)
    GRANTS.inc()
    claims = links.LinkClaims(grant.id, rendition_id, expires)
    query = urllib.parse.urlencode(
        {"rendition": rendition_id, "expires": expires, "signature": links.sign(_key(catalogue), claims)}
    )
    return DownloadLink(f"{base_url.rstrip('/')}/v1/downloads/{grant.id}?{query}", grant.expires_at)


def open_download(catalogue: Catalogue, claims: links.LinkClaims, signature: str) -> Download:
    """The file a link grants; LinkInvalid when altered or unknown, LinkExpired when its time is over."""
    outcome = links.check(_key(catalogue), claims, signature, catalogue.clock().timestamp())
    if outcome is links.LinkCheck.TAMPERED:
        raise LinkInvalid("This download link is not valid.")
    if outcome is links.LinkCheck.EXPIRED:
        raise LinkExpired("This download link has expired. Ask for a new one.")
    with catalogue.pool.connection() as conn:
        found = video_store.rendition_with_title(conn, claims.rendition_id)
        if found is None or not grant_store.grant_exists(conn, claims.grant_id, claims.rendition_id):
            raise LinkInvalid("This download link is no longer valid.")
    rendition, title = found
    return Download(rendition, download_filename(title, rendition))


def record_download(catalogue: Catalogue, grant_id: UUID) -> None:
    """Count the grant's download the first time its bytes are sent (not per range request)."""
    with catalogue.pool.connection() as conn:
        if grant_store.count_first_download(conn, grant_id):
            DOWNLOADS.inc()


def open_file(catalogue: Catalogue, key: str) -> BinaryIO:
    """A stored file, opened; FileUnavailable when storage has lost it."""
    try:
        return catalogue.storage.open(key)
    except (MissingFile, UnsafeKey):
        raise _lost(key) from None


def _lost(key: str) -> FileUnavailable:
    log.error("stored file %r is missing", key)
    return FileUnavailable("The file is not available right now.")


IMAGES = {"thumbnail": "thumbnail_key", "poster": "poster_key", "preview": "preview_key"}


@dataclass(frozen=True)
class StoredImage:
    """A video's thumbnail, poster or preview: where it is, its size and SHA-256 (hex)."""

    key: str
    size: int
    sha256: str


def thumbnail(
    catalogue: Catalogue, video_id: UUID, kind: str = "thumbnail", everything: bool = False
) -> StoredImage:
    """The video's thumbnail (or poster, or preview) with its digest; NotFound, or FileUnavailable
    when lost."""
    key = getattr(video(catalogue, video_id, everything=everything), IMAGES[kind])
    if key is None:
        raise NotFound(f"This video has no {kind}.")
    try:
        size = catalogue.storage.size(key)
        return StoredImage(key, size, file_digest(catalogue, key, size))
    except (MissingFile, UnsafeKey):
        raise _lost(key) from None


def file_digest(catalogue: Catalogue, key: str, size: int) -> str:
    """The file's SHA-256: remembered, or read once from storage and remembered (these files are small,
    and a video's files are written once)."""
    with catalogue.pool.connection() as conn:
        known = video_store.file_digest(conn, key, size)
    if known is not None:
        return known
    computed = catalogue.storage.checksum(key)
    with catalogue.pool.connection() as conn:
        video_store.remember_file_digest(conn, key, size, computed)
    return computed


def _key(catalogue: Catalogue) -> bytes:
    return catalogue.settings.download_link_key
