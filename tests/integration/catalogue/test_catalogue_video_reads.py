"""Reading a video while a transcoder finishes it, or a page while a video comes and goes: the answer
is one moment of the catalogue, never a status from before and renditions from after, nor a count
from before and a page from after."""

import uuid

import pytest

from catalogue.adapters import video_store
from catalogue.domain.videos import SearchQuery
from catalogue.entrypoints.app import create_app
from tests.integration.catalogue.conftest import add_video
from tests.support.moments import answers_while


def test_a_video_read_while_it_becomes_ready_is_processing_without_renditions_or_ready_with_them(
    make_catalogue, media_root, catalogue_pool
):
    catalogue = make_catalogue()
    video_id = uuid.UUID(add_video(create_app(catalogue).test_client(), media_root)["id"])
    with catalogue_pool.connection() as conn:
        renditions = video_store.find_video(conn, video_id).renditions  # type: ignore[union-attr]
        # Imported published: ready before the writer starts, or a read before its first flip sees that.
        conn.execute("UPDATE videos SET status = 'ready' WHERE id = %s", (video_id,))

    def finish_again() -> None:
        with catalogue_pool.connection() as conn:
            with conn.transaction():
                conn.execute("UPDATE videos SET status = 'processing' WHERE id = %s", (video_id,))
                conn.execute("DELETE FROM renditions WHERE video_id = %s", (video_id,))
            with conn.transaction():
                video_store.insert_renditions(conn, video_id, renditions)
                conn.execute("UPDATE videos SET status = 'ready' WHERE id = %s", (video_id,))

    def status_and_renditions() -> tuple[str, int]:
        with catalogue_pool.connection() as conn:
            video = video_store.find_video(conn, video_id)
        assert video is not None
        return str(video.status), len(video.renditions)

    assert answers_while(finish_again, status_and_renditions) == {("processing", 0), ("ready", 1)}


@pytest.mark.parametrize("words", ["", "kestrel"], ids=["browse", "search"])
def test_a_page_read_while_a_video_comes_and_goes_counts_what_it_lists(
    make_catalogue, media_root, catalogue_pool, words
):
    tag = f"moment-{uuid.uuid4().hex}"
    client = create_app(make_catalogue()).test_client()
    video_id = add_video(client, media_root, title="Kestrel", tags=[tag])["id"]

    def withdraw_and_publish_again() -> None:
        with catalogue_pool.connection() as conn:
            for status in ("processing", "published"):
                conn.execute("UPDATE videos SET status = %s WHERE id = %s", (status, video_id))

    def listed_and_counted() -> tuple[int, int]:
        with catalogue_pool.connection() as conn:
            page = video_store.search_videos(conn, SearchQuery(text=words, tag=tag))
        return len(page.videos), page.total

    assert answers_while(withdraw_and_publish_again, listed_and_counted) == {(0, 0), (1, 1)}
