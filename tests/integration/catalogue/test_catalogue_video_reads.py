"""Reading a video while a transcoder finishes it, or a page while a video comes and goes: the answer
is one moment of the catalogue, never a status from before and renditions from after, nor a count
from before and a page from after."""

import threading
import uuid

import pytest

from catalogue.adapters import video_store
from catalogue.domain.videos import SearchQuery
from catalogue.entrypoints.app import create_app
from tests.integration.catalogue.conftest import add_video


def test_a_video_read_while_it_becomes_ready_is_processing_without_renditions_or_ready_with_them(
    make_catalogue, media_root, catalogue_pool
):
    catalogue = make_catalogue()
    video_id = uuid.UUID(add_video(create_app(catalogue).test_client(), media_root)["id"])
    with catalogue_pool.connection() as conn:
        renditions = video_store.find_video(conn, video_id).renditions  # type: ignore[union-attr]
        # Imported published: ready before the writer starts, or a read before its first flip sees that.
        conn.execute("UPDATE videos SET status = 'ready' WHERE id = %s", (video_id,))
    done = threading.Event()

    def finish_again_and_again() -> None:
        with catalogue_pool.connection() as conn:
            while not done.is_set():
                with conn.transaction():
                    conn.execute("UPDATE videos SET status = 'processing' WHERE id = %s", (video_id,))
                    conn.execute("DELETE FROM renditions WHERE video_id = %s", (video_id,))
                with conn.transaction():
                    video_store.insert_renditions(conn, video_id, renditions)
                    conn.execute("UPDATE videos SET status = 'ready' WHERE id = %s", (video_id,))

    writer = threading.Thread(target=finish_again_and_again)
    writer.start()
    seen = set()
    try:
        with catalogue_pool.connection() as conn:
            for _ in range(2000):
                video = video_store.find_video(conn, video_id)
                assert video is not None
                seen.add((str(video.status), len(video.renditions)))
    finally:
        done.set()
        writer.join()
    assert seen == {("processing", 0), ("ready", 1)}


@pytest.mark.parametrize("words", ["", "kestrel"], ids=["browse", "search"])
def test_a_page_read_while_a_video_comes_and_goes_counts_what_it_lists(
    make_catalogue, media_root, catalogue_pool, words
):
    tag = f"moment-{uuid.uuid4().hex}"
    client = create_app(make_catalogue()).test_client()
    video_id = add_video(client, media_root, title="Kestrel", tags=[tag])["id"]
    done = threading.Event()

    def publish_and_withdraw_again_and_again() -> None:
        with catalogue_pool.connection() as conn:
            while not done.is_set():
                for status in ("processing", "published"):
                    conn.execute("UPDATE videos SET status = %s WHERE id = %s", (status, video_id))

    writer = threading.Thread(target=publish_and_withdraw_again_and_again)
    writer.start()
    seen = set()
    try:
        with catalogue_pool.connection() as conn:
            for _ in range(2000):
                page = video_store.search_videos(conn, SearchQuery(text=words, tag=tag))
                seen.add((len(page.videos), page.total))
    finally:
        done.set()
        writer.join()
    assert seen == {(0, 0), (1, 1)}
