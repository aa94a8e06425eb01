"""What the newsletter does with the catalogue's video events: the "New videos" draft.

Each VideoPublished adds the video to the one open "New videos" draft (opening one when there is
none: the last one was sent, scheduled or cancelled); a VideoUnpublished takes it out again. The
draft only ever stays a draft: an editor reads it, rewrites what they like and sends it, as any issue.
"""

import uuid
from typing import Any
from uuid import UUID

import psycopg

from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.domain.content import LANGUAGES
from newsletter.domain.issues import Issue
from newsletter.domain.new_videos import (
    SUBJECTS,
    new_bodies,
    title_in,
    video_line,
    video_page,
    with_video,
    without_video,
)


def video_event_handlers(newsletter: Newsletter) -> dict[str, Handler]:
    def published(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        add_video(newsletter, conn, data["video_id"], data["title"])

    def unpublished(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        remove_video(conn, data["video_id"])

    return {"VideoPublished": published, "VideoUnpublished": unpublished}


def add_video(
    newsletter: Newsletter, conn: psycopg.Connection, video_id: UUID, titles: dict[str, str]
) -> Issue:
    """Add the video to the open draft (opened if need be), in the caller's transaction; a video already
    listed is not listed twice (a redelivered event, a video published again)."""
    draft = repository.open_new_videos_draft(conn)
    if draft is None:
        repository.insert_new_videos_draft(conn, uuid.uuid4(), SUBJECTS, new_bodies())
        draft = repository.open_new_videos_draft(conn)
        assert draft is not None  # inserted, or another worker's committed meanwhile
    page = video_page(newsletter.settings.portal_url, video_id)
    bodies = {
        language: with_video(
            draft.bodies.get(language) or "", video_id, video_line(title_in(titles, language), page)
        )
        for language in LANGUAGES
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


def _rewrite(conn: psycopg.Connection, draft: Issue, bodies: dict[str, str]) -> Issue:
    if bodies == draft.bodies:
        return draft
    updated = repository.update_draft(conn, draft.id, draft.subjects, {**draft.bodies, **bodies})
    assert updated is not None  # locked as a draft
    return updated
