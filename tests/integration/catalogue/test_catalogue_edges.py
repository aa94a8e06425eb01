"""The catalogue's edges from issue 19: odd search input is a 422 (never a 500), its URLs come from
CATALOGUE_PUBLIC_URL (never the Host header), and its answers say how long they may be cached."""

import pytest

from catalogue.adapters.storage import LocalStorage
from catalogue.entrypoints.app import create_app
from tests.integration.catalogue.conftest import add_video, editor
from tests.integration.conftest import bearer, sign_up

PUBLIC = "https://videos.example.org"


@pytest.fixture
def client(make_catalogue):  # type: ignore[no-untyped-def]
    return create_app(make_catalogue(public_url=PUBLIC)).test_client()


@pytest.fixture
def video(client, media_root):  # type: ignore[no-untyped-def]
    LocalStorage(media_root).write("test/edge-thumbnail.jpg", b"\xff\xd8 jpeg bytes")
    return add_video(client, media_root, title="Edges", thumbnail="test/edge-thumbnail.jpg")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=a%00b", "q"),
        ("tag=%00", "tag"),
        ("to=9999-12-31", "to"),
        ("from=0001-01-01", "from"),
        ("q=a%0Ab", "q"),
    ],
)
def test_odd_searches_are_a_422_problem(client, query, field):
    response = client.get(f"/v1/videos?{query}")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_absurd_nesting_and_control_characters_in_an_ingest_are_a_422(client):
    deep = client.post(
        "/v1/videos/imports", data="[" * 5000 + "]" * 5000, content_type="application/json", headers=editor()
    )
    assert deep.status_code == 422
    titled = client.post("/v1/videos/imports", json={"title": {"en": "two\nlines"}}, headers=editor())
    assert titled.status_code == 422 and "title.en" in titled.json["errors"]


@pytest.mark.parametrize("path", ["a" * 300, f"test/{'b' * 256}/c.mp4", "test/" + "é" * 200])
def test_an_import_of_a_path_no_file_system_holds_is_a_422(client, path):
    body = {
        "title": {"en": "Long names"}, "published_at": "2021-02-11T14:00:00+00:00", "duration": 1,
        "renditions": [{"label": "x", "container": "mp4", "codec": "h264", "width": 1, "height": 1,
                        "bitrate": 1, "path": path}],
    }  # fmt: skip
    response = client.post("/v1/videos/imports", json=body, headers=editor())
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "renditions.0.path" in response.json["errors"]


def test_a_description_keeps_its_lines(client, media_root):
    video = add_video(client, media_root, title="Lines", description="First line.\n\nSecond\tline.")
    assert client.get(f"/v1/videos/{video['id']}").json["description"]["en"] == "First line.\n\nSecond\tline."


def test_urls_come_from_the_configured_public_url_never_the_host_header(
    client, video, served_identity, identity_pool, unique_email
):
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    listed = client.get(f"/v1/videos?q={video['title']['en']}", headers=evil).json["items"]
    assert listed[0]["thumbnail"] == f"{PUBLIC}/v1/videos/{video['id']}/thumbnail"
    assert client.get(f"/v1/videos/{video['id']}", headers=evil).json["thumbnail"].startswith(f"{PUBLIC}/")
    token = sign_up(served_identity.app.test_client(), identity_pool, unique_email)
    links = f"/v1/videos/{video['id']}/renditions/{video['renditions'][0]['id']}/download-links"
    link = client.post(links, headers={**bearer(token), **evil})
    assert link.status_code == 201 and link.json["url"].startswith(f"{PUBLIC}/v1/downloads/")


def test_public_lists_are_cacheable_for_a_minute_and_everything_personal_is_not(
    client, video, served_identity, identity_pool, unique_email
):
    for path in ("/v1/videos", f"/v1/videos/{video['id']}"):
        anonymous = client.get(path)
        assert anonymous.headers["Cache-Control"] == "public, max-age=60"
        assert "Authorization" in anonymous.headers["Vary"]
        assert client.get(path, headers=editor()).headers["Cache-Control"] == "no-store"
    assert client.get("/v1/videos?page=0").headers["Cache-Control"] == "no-store"  # a 422
    identity = served_identity.app.test_client()
    token = sign_up(identity, identity_pool, unique_email)
    assert identity.get("/v1/accounts/me", headers=bearer(token)).headers["Cache-Control"] == "no-store"
    links = f"/v1/videos/{video['id']}/renditions/{video['renditions'][0]['id']}/download-links"
    assert client.post(links, headers=bearer(token)).headers["Cache-Control"] == "no-store"
