"""Published videos are public whatever token comes with the request: only a catalogue editor's sees
more, and any other token (unverified, revoked, uncheckable while identity's keys are unreachable) sees
what anybody sees. Their files are cached publicly only when no token was sent."""

import uuid
from typing import Any

import jwt
import pytest

from catalogue.adapters.storage import LocalStorage
from catalogue.entrypoints.app import create_app
from catalogue.service_layer.projection import HANDLERS
from identity.adapters.tokens import key_id
from tests.integration.catalogue.conftest import add_video, editor, unique_word
from tests.integration.conftest import IDENTITY_SIGNING_KEY, account_of, bearer, feed, reset_password, sign_up
from tests.support.processes import free_port

PUBLIC_PATHS = ("", "/preview", "/thumbnail", "/poster")


@pytest.fixture
def published(catalogue_client, media_root, catalogue_pool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A published video with a thumbnail, a poster, and a rendition the preview plays."""
    images = {kind: f"test/{uuid.uuid4().hex}-{kind}.jpg" for kind in ("thumbnail", "poster")}
    for key in images.values():
        LocalStorage(media_root).write(key, b"\xff\xd8 jpeg bytes")
    video = add_video(catalogue_client, media_root, title=unique_word(), thumbnail=images["thumbnail"])
    with catalogue_pool.connection() as conn:  # as the transcoder lists its poster
        conn.execute("UPDATE videos SET poster_key = %s WHERE id = %s", (images["poster"], video["id"]))
    return video


@pytest.fixture
def withdrawn(catalogue_client, media_root) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    video = add_video(catalogue_client, media_root, title=unique_word())
    assert (
        catalogue_client.delete(f"/v1/videos/{video['id']}/publication", headers=editor()).status_code == 204
    )
    return video


def unverified(token: str) -> str:
    """The same token re-signed by identity's key, saying the email address is not verified."""
    claims = {**jwt.decode(token, options={"verify_signature": False}), "email_verified": False}
    return jwt.encode(claims, IDENTITY_SIGNING_KEY, "EdDSA", {"kid": key_id(IDENTITY_SIGNING_KEY)})


def revoked(token: str, served_identity, identity_pool, catalogue_pool, email: str) -> str:  # type: ignore[no-untyped-def]
    """The token, after a password reset the catalogue has heard of."""
    reset_password(served_identity.app.test_client(), identity_pool, email)
    account_id = account_of(token)
    feed(catalogue_pool, identity_pool, account_id, "PasswordReset", HANDLERS)
    return token


def assert_sees_the_published_only(client, headers, published, withdrawn) -> None:  # type: ignore[no-untyped-def]
    for suffix in PUBLIC_PATHS:
        response = client.get(f"/v1/videos/{published['id']}{suffix}", headers=headers)
        assert response.status_code == 200, (suffix, response.get_data(as_text=True))
    assert listed(client, headers, published, withdrawn) == {published["id"]}
    assert client.get(f"/v1/videos/{withdrawn['id']}", headers=headers).status_code == 404


def listed(client, headers, *videos) -> set[str]:  # type: ignore[no-untyped-def]
    """The ids of `videos` a search for their titles shows."""
    words = " or ".join(video["title"]["en"] for video in videos)
    response = client.get("/v1/videos", query_string={"q": words}, headers=headers)
    assert response.status_code == 200, response.json
    return {item["id"] for item in response.json["items"]}


def test_an_editor_sees_the_unpublished_videos_too(catalogue_client, published, withdrawn):
    assert listed(catalogue_client, editor(), published, withdrawn) == {published["id"], withdrawn["id"]}


def test_an_unverified_or_revoked_token_or_another_scheme_sees_the_published_videos(
    catalogue_client, published, withdrawn, served_identity, identity_pool, catalogue_pool, unique_email
):
    token = sign_up(served_identity.app.test_client(), identity_pool, unique_email)
    for headers in (bearer(unverified(token)), {"Authorization": "Basic dXNlcjpwYXNz"}):
        assert_sees_the_published_only(catalogue_client, headers, published, withdrawn)
    token = revoked(token, served_identity, identity_pool, catalogue_pool, unique_email)
    assert_sees_the_published_only(catalogue_client, bearer(token), published, withdrawn)


def test_any_token_sees_the_published_videos_while_identity_keys_cannot_be_fetched(
    make_catalogue, catalogue_client, published, withdrawn
):
    cut_off = create_app(make_catalogue(identity_jwks_url=f"http://127.0.0.1:{free_port()}/jwks"))
    assert_sees_the_published_only(cut_off.test_client(), editor(), published, withdrawn)


def test_a_bearer_token_that_is_not_valid_is_a_401_so_its_client_renews_it(catalogue_client, published):
    for suffix in PUBLIC_PATHS:
        response = catalogue_client.get(f"/v1/videos/{published['id']}{suffix}", headers=bearer("forged"))
        assert response.status_code == 401 and response.json["type"].endswith("invalid-token"), suffix
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("suffix", ["/preview", "/thumbnail"])
def test_files_are_cached_publicly_only_without_a_token(catalogue_client, published, suffix):
    path = f"/v1/videos/{published['id']}{suffix}"
    anonymous, with_token = catalogue_client.get(path), catalogue_client.get(path, headers=editor())
    assert anonymous.headers["Cache-Control"] == "public, max-age=3600"
    assert with_token.headers["Cache-Control"] == "private, max-age=0"
    for response in (anonymous, with_token):
        assert "Authorization" in response.headers["Vary"]


def test_an_editors_preview_of_an_unpublished_video_stays_private(catalogue_client, withdrawn):
    path = f"/v1/videos/{withdrawn['id']}/preview"
    assert catalogue_client.get(path).status_code == 404
    response = catalogue_client.get(path, headers=editor())
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, max-age=0"
    assert "Authorization" in response.headers["Vary"]


def test_an_editors_list_shows_a_withdrawn_video_before_the_published_ones_however_dated(
    catalogue_client, media_root
):
    # The console lists "videos not yet published first, then the newest": a video withdrawn keeps its
    # date, and must not sink below every video published since (page after page of them).
    tag = unique_word()
    older = add_video(catalogue_client, media_root, tags=[tag], published_at="2020-01-01T00:00:00+00:00")
    newer = add_video(catalogue_client, media_root, tags=[tag], published_at="2030-01-01T00:00:00+00:00")
    withdrawal = catalogue_client.delete(f"/v1/videos/{older['id']}/publication", headers=editor())
    assert withdrawal.status_code == 204
    response = catalogue_client.get("/v1/videos", query_string={"tag": tag}, headers=editor())
    assert [item["id"] for item in response.json["items"]] == [older["id"], newer["id"]]
    public = catalogue_client.get("/v1/videos", query_string={"tag": tag})
    assert [item["id"] for item in public.json["items"]] == [newer["id"]]
