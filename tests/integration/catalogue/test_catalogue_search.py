"""Browsing and searching the catalogue (public): full-text search with ranking, filters, pagination."""

import hashlib
import uuid

from catalogue.adapters.storage import LocalStorage
from tests.integration.catalogue.conftest import add_video, unique_word


def titles(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.json
    return [item["title"]["en"] for item in response.json["items"]]


def test_search_finds_words_of_titles_and_descriptions(catalogue_client, media_root):
    word, other = unique_word(), unique_word()
    add_video(catalogue_client, media_root, title=f"Ministers meet {word}", description="Nothing else.")
    add_video(
        catalogue_client, media_root, title="Press conference", description=f"About {word} and {other}."
    )
    add_video(catalogue_client, media_root, title="Unrelated", description="Nothing to see.")

    assert sorted(titles(catalogue_client.get(f"/v1/videos?q={word}"))) == [
        f"Ministers meet {word}",
        "Press conference",
    ]
    assert titles(catalogue_client.get(f"/v1/videos?q={other}")) == ["Press conference"]
    assert titles(catalogue_client.get(f"/v1/videos?q={word} {other}")) == ["Press conference"]
    assert titles(catalogue_client.get(f"/v1/videos?q={word} -{other}")) == [f"Ministers meet {word}"]


def test_title_hits_rank_before_description_hits(catalogue_client, media_root):
    word = unique_word()
    repeated = " ".join([word] * 20)
    add_video(catalogue_client, media_root, title="Described often", description=f"{repeated}.",
              published_at="2024-01-01T00:00:00+00:00")  # fmt: skip
    add_video(catalogue_client, media_root, title=f"Titled {word}", description="Short.",
              published_at="2019-01-01T00:00:00+00:00")  # fmt: skip
    assert titles(catalogue_client.get(f"/v1/videos?q={word}")) == [f"Titled {word}", "Described often"]


def test_phrases_people_places_and_tags_are_searchable(catalogue_client, media_root):
    first, second = unique_word(), unique_word()
    add_video(catalogue_client, media_root, title="Phrase", description=f"{first} {second} together.")
    add_video(catalogue_client, media_root, title="Apart", description=f"{second} then {first}.")
    add_video(catalogue_client, media_root, title="Person", people=[f"Jens {first}"], location="Mons")
    assert titles(catalogue_client.get(f'/v1/videos?q="{first} {second}"')) == ["Phrase"]
    assert "Person" in titles(catalogue_client.get(f"/v1/videos?q={first}"))


def test_filters_by_date_range_and_tag(catalogue_client, media_root):
    word, tag = unique_word(), f"Exercise {uuid.uuid4().hex[:6]}"
    add_video(catalogue_client, media_root, title="January", description=word,
              published_at="2021-01-15T12:00:00+00:00", tags=[tag])  # fmt: skip
    add_video(catalogue_client, media_root, title="February", description=word,
              published_at="2021-02-11T23:59:00+00:00")  # fmt: skip
    add_video(catalogue_client, media_root, title="March", description=word,
              published_at="2021-03-01T00:00:00+00:00", tags=[tag])  # fmt: skip

    assert titles(catalogue_client.get(f"/v1/videos?q={word}&from=2021-02-01&to=2021-02-11")) == ["February"]
    assert titles(catalogue_client.get(f"/v1/videos?q={word}&from=2021-02-12")) == ["March"]
    assert titles(catalogue_client.get(f"/v1/videos?q={word}&to=2021-01-31")) == ["January"]
    # Tags are matched whatever their case; without words, the newest come first.
    assert titles(catalogue_client.get("/v1/videos", query_string={"tag": tag.upper()})) == [
        "March",
        "January",
    ]


def test_pagination_is_stable_and_counts_every_match(catalogue_client, media_root):
    word = unique_word()
    for number in range(5):
        add_video(catalogue_client, media_root, title=f"{word} {number}", published_at="2022-05-05T00:00:00Z")
    pages = [
        catalogue_client.get(f"/v1/videos?q={word}&per_page=2&page={page}").json for page in (1, 2, 3, 4)
    ]
    assert [page["total"] for page in pages] == [5, 5, 5, 5]
    assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
    seen = [item["id"] for page in pages for item in page["items"]]
    assert len(set(seen)) == 5
    again = [item["id"] for page in (1, 2, 3) for item in
             catalogue_client.get(f"/v1/videos?q={word}&per_page=2&page={page}").json["items"]]  # fmt: skip
    assert again == seen


def test_a_video_shows_its_details_and_renditions(catalogue_client, media_root):
    created = add_video(catalogue_client, media_root, title="Detail", people=["Ludivine Dedonder"],
                        location="Brussels", tags=["Belgium", "belgium "])  # fmt: skip
    response = catalogue_client.get(f"/v1/videos/{created['id']}")
    assert response.status_code == 200
    video = response.json
    assert (video["title"], video["people"], video["location"], video["tags"]) == (
        {"en": "Detail", "fr": "Detail"}, ["Ludivine Dedonder"], "Brussels", ["belgium"]
    )  # fmt: skip
    assert (video["status"], video["progress"], video["poster_url"], video["preview_url"]) == (
        "published", 100, None, None
    )  # fmt: skip
    [rendition] = video["renditions"]
    assert rendition["sha256"] == rendition["checksum"] == hashlib.sha256(b"video bytes " * 100).hexdigest()
    assert rendition["label"] == "1080p MP4" and rendition["size_bytes"] == len(b"video bytes " * 100)
    assert "path" not in rendition and "storage_key" not in rendition
    missing = catalogue_client.get(f"/v1/videos/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"


def test_bad_queries_are_problems(catalogue_client):
    for query in ("page=0", "per_page=1000", "from=yesterday", "unknown=1", "q=" + "x" * 500):
        response = catalogue_client.get(f"/v1/videos?{query}")
        assert response.status_code == 422, query
        assert response.content_type == "application/problem+json"
    assert catalogue_client.get("/v1/videos/not-a-uuid").status_code == 404


def test_thumbnails_are_served_publicly(catalogue_client, media_root):
    LocalStorage(media_root).write("test/thumbnail.jpg", b"\xff\xd8 jpeg bytes")
    with_thumbnail = add_video(catalogue_client, media_root, title="Pictured", thumbnail="test/thumbnail.jpg")
    response = catalogue_client.get(with_thumbnail["thumbnail"].removeprefix("http://localhost"))
    assert (response.status_code, response.content_type) == (200, "image/jpeg")
    assert response.data == b"\xff\xd8 jpeg bytes"
    without = add_video(catalogue_client, media_root, title="Unpictured")
    assert without["thumbnail"] is None
    assert catalogue_client.get(f"/v1/videos/{without['id']}/thumbnail").status_code == 404
    (media_root / "test" / "thumbnail.jpg").unlink()
    lost = catalogue_client.get(f"/v1/videos/{with_thumbnail['id']}/thumbnail")
    assert lost.status_code == 503 and lost.content_type == "application/problem+json"
