"""What the newsletter does with the catalogue's video events: the "New videos" draft.

Each VideoPublished adds the video to the one open "New videos" draft (opening one when there is
none: the last one was sent, scheduled or cancelled); a VideoUnpublished takes it out again; a
VideoTextsChanged gives its line the new title. The titles of the newest texts revision seen are kept
per video (adapters.video_titles): an older event arriving late never brings an old title back. So is
the video_revision of the newest publication or withdrawal followed (adapters.video_publications): an
older one arriving late (a dead letter replayed, a redelivery) adds or removes nothing, so a withdrawn
video stays out; of an older VideoPublished, only titles newer than those kept are taken. Events from
before the catalogue numbered them are followed as they come until a numbered one was: then they are
older, and add or remove nothing. The draft only ever stays a draft: an editor reads it, rewrites what
they like and sends it, as any issue.
"""

import uuid
from typing import Any
from uuid import UUID

import psycopg

from accounts_common.events import CloudEvent
from accounts_common.events.videos import is_newer
from accounts_common.inbox import Handler
from newsletter.adapters import repository, video_publications, video_titles
from newsletter.bootstrap import Newsletter
from newsletter.domain.content import LANGUAGES
from newsletter.domain.issues import Issue
from newsletter.domain.new_videos import (
    SUBJECTS,
    new_bodies,
    retitled,
    title_in,
    video_line,
    video_page,
    with_video,
    without_video,
)


def video_event_handlers(newsletter: Newsletter) -> dict[str, Handler]:
    def published(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        video_id, titles, texts_revision = data["video_id"], data["title"], data.get("texts_revision", 0)
        if newest_publication(conn, video_id, data.get("video_revision")):
            add_video(newsletter, conn, video_id, titles, texts_revision)
        else:  # published before a withdrawal or publication already followed: its titles alone
            retitle_video(newsletter, conn, video_id, titles, texts_revision)

    def unpublished(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        if newest_publication(conn, data["video_id"], data.get("video_revision")):
            remove_video(conn, data["video_id"])

    def texts_changed(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        retitle_video(newsletter, conn, data["video_id"], data["title"], data["texts_revision"])

    return {"VideoPublished": published, "VideoUnpublished": unpublished, "VideoTextsChanged": texts_changed}


def newest_publication(conn: psycopg.Connection, video_id: UUID, video_revision: int | None) -> bool:
    """Whether a VideoPublished or VideoUnpublished numbered `video_revision` is newer than those followed
    for the video, in the caller's transaction: then it is the newest followed. One without a number
    (written before the catalogue numbered them) is followed only while no numbered one was."""
    if not is_newer(video_revision, video_publications.locked(conn, video_id)):
        return False
    if video_revision is not None:
        video_publications.keep(conn, video_id, video_revision)
    return True


def add_video(
    newsletter: Newsletter, conn: psycopg.Connection, video_id: UUID, titles: dict[str, str], revision: int
) -> Issue:
    """Add the video to the open draft (opened if need be), in the caller's transaction, under the titles
    of the newest texts revision seen (these, or newer ones kept); a video already listed is not listed
    twice (a redelivered event, a video published again), its line written from older titles retitled."""
    known = video_titles.locked(conn, video_id)
    if known is not None and known.revision > revision:
        titles = known.titles
    else:
        video_titles.keep(conn, video_id, titles, revision)
    draft = repository.open_new_videos_draft(conn)
    if draft is None:
        repository.insert_new_videos_draft(conn, uuid.uuid4(), SUBJECTS, new_bodies())
        draft = repository.open_new_videos_draft(conn)
        assert draft is not None  # inserted, or another worker's committed meanwhile
    page = video_page(newsletter.settings.portal_url, video_id)
    bodies = {}
    for language in LANGUAGES:
        line, body = _line(titles, language, page), draft.bodies.get(language) or ""
        if known is not None:
            body = retitled(body, video_id, line, written=_line(known.titles, language, page))
        bodies[language] = with_video(body, video_id, line)
    return _rewrite(conn, draft, bodies)


def retitle_video(
    newsletter: Newsletter, conn: psycopg.Connection, video_id: UUID, titles: dict[str, str], revision: int
) -> Issue | None:
    """The video's line in the open draft under its new titles, in the caller's transaction, unless
    titles of this revision or a newer one were seen (a redelivered or late event: nothing changes).
    Its line in an issue no longer a draft stays as it went; an editor's rewording of it stays too."""
    known = video_titles.locked(conn, video_id)
    if known is not None and known.revision >= revision:
        return None
    video_titles.keep(conn, video_id, titles, revision)
    draft = repository.open_new_videos_draft(conn)
    if draft is None:
        return None
    page = video_page(newsletter.settings.portal_url, video_id)
    bodies = {
        language: retitled(
            body,
            video_id,
            _line(titles, language, page),
            written=None if known is None else _line(known.titles, language, page),
        )
        for language, body in draft.bodies.items()
    }
    return _rewrite(conn, draft, bodies)


def remove_video(conn: psycopg.Connection, video_id: UUID) -> Issue | None:
    """Take the withdrawn video out of the open draft, if it is listed there; None when no draft is open
    (a video of an issue already sent stays in it: that mail went)."""
    draft = repository.open_new_videos_draft(conn)
    if draft is None:
        return None
    bodies = {language: without_video(body, video_id) for language, body in draft.bodies.items()}
    return _rewrite(conn, draft, bodies)


def _line(titles: dict[str, str], language: str, page: str) -> str:
    return video_line(title_in(titles, language), page)


def _rewrite(conn: psycopg.Connection, draft: Issue, bodies: dict[str, str]) -> Issue:
    if bodies == draft.bodies:
        return draft
    updated = repository.update_draft(conn, draft.id, draft.subjects, {**draft.bodies, **bodies})
    assert updated is not None  # locked as a draft
    return updated
