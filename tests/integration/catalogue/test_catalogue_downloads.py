"""Downloads: links only for verified accounts (tokens from identity over HTTP, the account projection),
and the files behind them — exact bytes, ranges, conditional requests, expiry and tampering."""

import hashlib
import json
import threading
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from accounts_common import account_projection
from accounts_common.events import parse_event, validate_data
from accounts_common.roles import Role
from catalogue.adapters.grant_store import download_count
from catalogue.entrypoints.app import create_app
from catalogue.service_layer.projection import HANDLERS
from identity.adapters.tokens import key_id
from tests.integration.catalogue.conftest import add_video, editor
from tests.integration.conftest import (
    IDENTITY_SIGNING_KEY,
    PASSWORD,
    account_events,
    account_of,
    bearer,
    sign_up,
    staff_token,
)
from tests.integration.test_identity_token_check import NEW_PASSWORD, feed, reset_password

CONTENT = bytes(range(256)) * 4000  # 1,024,000 bytes, every offset distinguishable


@pytest.fixture
def video(catalogue_client, media_root):  # type: ignore[no-untyped-def]
    return add_video(catalogue_client, media_root, title="Secretary General welcomes the Minister",
                     content=CONTENT)  # fmt: skip


@pytest.fixture
def identity_client(served_identity):  # type: ignore[no-untyped-def]
    return served_identity.app.test_client()


@pytest.fixture
def token(identity_client, identity_pool, unique_email) -> str:  # type: ignore[no-untyped-def]
    return sign_up(identity_client, identity_pool, unique_email)


def links_path(video) -> str:  # type: ignore[no-untyped-def]
    return f"/v1/videos/{video['id']}/renditions/{video['renditions'][0]['id']}/download-links"


def get_link(client, video, token: str) -> str:  # type: ignore[no-untyped-def]
    response = client.post(links_path(video), headers=bearer(token))
    assert response.status_code == 201, response.json
    return response.json["url"]


def log_in_with_new_password(identity_client, email: str) -> str:  # type: ignore[no-untyped-def]
    """A new access token, from a login with the password reset_password set."""
    response = identity_client.post("/v1/sessions", json={"email": email, "password": NEW_PASSWORD})
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def local(url: str) -> str:
    """The link's path and query, for the test client."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def with_query(url: str, **changes: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = {**dict(urllib.parse.parse_qsl(parts.query)), **changes}
    return f"{parts.path}?{urllib.parse.urlencode(query)}"


def test_anonymous_and_unverified_callers_get_no_link(catalogue_client, video, token):
    missing = catalogue_client.post(links_path(video))
    assert missing.status_code == 401 and missing.json["type"].endswith("missing-token")
    assert catalogue_client.post(links_path(video), headers=bearer("garbage")).status_code == 401
    claims = {**jwt.decode(token, options={"verify_signature": False}), "email_verified": False}
    unverified = jwt.encode(claims, IDENTITY_SIGNING_KEY, "EdDSA", {"kid": key_id(IDENTITY_SIGNING_KEY)})
    refused = catalogue_client.post(links_path(video), headers=bearer(unverified))
    assert refused.status_code == 403 and refused.json["type"].endswith("account-not-verified")


def test_a_verified_account_downloads_the_exact_bytes(catalogue_client, video, token, catalogue_pool):
    response = catalogue_client.post(links_path(video), headers=bearer(token))
    assert response.status_code == 201
    expires_at = datetime.fromisoformat(response.json["expires_at"])
    assert timedelta(minutes=9) < expires_at - datetime.now(UTC) <= timedelta(minutes=10)

    download = catalogue_client.get(local(response.json["url"]))
    assert download.status_code == 200
    assert hashlib.sha256(download.data).hexdigest() == video["renditions"][0]["checksum"]
    assert download.data == CONTENT
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="secretary-general-welcomes-the-minister-1080p-mp4.mp4"'
    )
    assert download.headers["Accept-Ranges"] == "bytes"
    assert download.headers["Content-Type"] == "video/mp4"
    assert download.headers["ETag"] == f'"{video["renditions"][0]["checksum"]}"'
    with catalogue_pool.connection() as conn:
        assert download_count(conn, uuid.UUID(video["renditions"][0]["id"])) == 1


def test_ranges_return_the_right_slices(catalogue_client, video, token):
    url = local(get_link(catalogue_client, video, token))
    size = len(CONTENT)
    for header, expected, content_range in [
        ("bytes=0-99", CONTENT[:100], f"bytes 0-99/{size}"),
        ("bytes=1000-1999", CONTENT[1000:2000], f"bytes 1000-1999/{size}"),
        ("bytes=-300", CONTENT[-300:], f"bytes {size - 300}-{size - 1}/{size}"),
        (f"bytes={size - 10}-", CONTENT[-10:], f"bytes {size - 10}-{size - 1}/{size}"),
    ]:
        response = catalogue_client.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.data == expected, header
        assert response.headers["Content-Range"] == content_range
        assert int(response.headers["Content-Length"]) == len(expected)
    for header in (f"bytes={size}-", "bytes=0-1,4-5", "bytes=abc"):
        response = catalogue_client.get(url, headers={"Range": header})
        assert response.status_code == 416, header
        assert response.content_type == "application/problem+json"
        assert response.headers["Content-Range"] == f"bytes */{size}"
    other_unit = catalogue_client.get(url, headers={"Range": "pages=1-2"})  # ignored (RFC 9110 §14.2)
    assert (other_unit.status_code, other_unit.data) == (200, CONTENT)


def test_conditional_requests_and_head(catalogue_client, video, token, catalogue_pool):
    url = local(get_link(catalogue_client, video, token))
    etag = f'"{video["renditions"][0]["checksum"]}"'
    head = catalogue_client.head(url)
    assert head.status_code == 200 and head.data == b""
    assert int(head.headers["Content-Length"]) == len(CONTENT) and head.headers["ETag"] == etag
    assert catalogue_client.get(url, headers={"If-None-Match": etag}).status_code == 304
    resumed = catalogue_client.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert (resumed.status_code, resumed.data) == (206, CONTENT[10:20])
    changed = catalogue_client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"other"'})
    assert (changed.status_code, len(changed.data)) == (200, len(CONTENT))


def test_a_download_counts_once_per_link_not_per_range_request(
    catalogue_client, video, token, catalogue_pool
):
    rendition_id = uuid.UUID(video["renditions"][0]["id"])
    url = local(get_link(catalogue_client, video, token))
    catalogue_client.head(url)
    for start in range(0, len(CONTENT), 256_000):
        assert (
            catalogue_client.get(url, headers={"Range": f"bytes={start}-{start + 255_999}"}).status_code
            == 206
        )
    with catalogue_pool.connection() as conn:
        assert download_count(conn, rendition_id) == 1
    catalogue_client.get(local(get_link(catalogue_client, video, token)))
    with catalogue_pool.connection() as conn:
        assert download_count(conn, rendition_id) == 2


def test_altered_links_are_403_and_expired_ones_410(make_catalogue, catalogue_client, video, token):
    url = get_link(catalogue_client, video, token)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    other_grant = local(url).replace(urllib.parse.urlsplit(url).path.rsplit("/", 1)[1], str(uuid.uuid4()))
    for altered in (
        with_query(url, expires=str(int(query["expires"]) + 3600)),
        with_query(url, signature=query["signature"][:-1] + ("A" if query["signature"][-1] != "A" else "B")),
        with_query(url, rendition=str(uuid.uuid4())),
        other_grant,
    ):
        response = catalogue_client.get(altered)
        assert response.status_code == 403, altered
        assert response.json["type"].endswith("link-invalid")
    assert catalogue_client.get(with_query(url, signature="x" * 500)).status_code == 422

    later = make_catalogue(clock=lambda: datetime.now(UTC) + timedelta(minutes=10, seconds=1))
    expired = create_app(later).test_client().get(local(url))
    assert expired.status_code == 410 and expired.json["type"].endswith("link-expired")


def test_a_token_from_before_a_password_reset_is_refused(
    catalogue_client, catalogue_pool, identity_client, identity_pool, video, unique_email
):
    old_token = sign_up(identity_client, identity_pool, unique_email)
    account_id = account_of(old_token)
    assert catalogue_client.post(links_path(video), headers=bearer(old_token)).status_code == 201
    reset_password(identity_client, identity_pool, unique_email)
    feed(catalogue_pool, identity_pool, account_id, "PasswordReset", HANDLERS)
    refused = catalogue_client.post(links_path(video), headers=bearer(old_token))
    assert refused.status_code == 403 and refused.json["type"].endswith("token-revoked")
    new_token = log_in_with_new_password(identity_client, unique_email)
    assert catalogue_client.post(links_path(video), headers=bearer(new_token)).status_code == 201


def test_a_deleted_account_gets_no_link_and_loses_every_link_even_used_ones(
    catalogue_client, catalogue_pool, identity_client, identity_pool, video, unique_email
):
    token = sign_up(identity_client, identity_pool, unique_email)
    account_id = account_of(token)
    unused = local(get_link(catalogue_client, video, token))
    used = local(get_link(catalogue_client, video, token))
    assert catalogue_client.get(used, headers={"Range": "bytes=0-9"}).status_code == 206
    feed(catalogue_pool, identity_pool, account_id, "AccountVerified", HANDLERS)
    assert (
        identity_client.delete(
            "/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token)
        ).status_code
        == 204
    )
    feed(catalogue_pool, identity_pool, account_id, "AccountDeleted", HANDLERS)
    refused = catalogue_client.post(links_path(video), headers=bearer(token))
    assert refused.status_code == 403 and refused.json["type"].endswith("token-revoked")
    with catalogue_pool.connection() as conn:
        assert account_projection.known_account_email(conn, uuid.UUID(account_id)) is None
    assert catalogue_client.get(unused).status_code == 403
    assert catalogue_client.get(used, headers={"Range": "bytes=10-19"}).status_code == 403
    with catalogue_pool.connection() as conn:
        assert download_count(conn, uuid.UUID(video["renditions"][0]["id"])) == 1


def test_a_password_reset_kills_the_links_handed_out_before_it(
    catalogue_client, catalogue_pool, identity_client, identity_pool, video, unique_email
):
    old_token = sign_up(identity_client, identity_pool, unique_email)
    account_id = account_of(old_token)
    used = local(get_link(catalogue_client, video, old_token))
    assert catalogue_client.get(used, headers={"Range": "bytes=0-9"}).status_code == 206
    unused = local(get_link(catalogue_client, video, old_token))
    reset_password(identity_client, identity_pool, unique_email)
    feed(catalogue_pool, identity_pool, account_id, "PasswordReset", HANDLERS)
    assert catalogue_client.get(used, headers={"Range": "bytes=10-19"}).status_code == 403
    assert catalogue_client.get(unused).status_code == 403
    new_token = log_in_with_new_password(identity_client, unique_email)
    assert catalogue_client.get(local(get_link(catalogue_client, video, new_token))).status_code == 200


def test_a_link_the_old_token_got_while_the_reset_was_on_its_way_dies_with_it(
    catalogue_client, catalogue_pool, identity_client, identity_pool, video, unique_email
):
    """The PasswordReset event reaches the catalogue a moment after the reset: meanwhile the old (maybe
    stolen) token still gets links, and they are that token's, so they die with it too."""
    old_token = sign_up(identity_client, identity_pool, unique_email)
    account_id = account_of(old_token)
    reset_password(identity_client, identity_pool, unique_email)
    [reset] = [e for e in account_events(identity_pool, account_id) if e["type"] == "PasswordReset"]
    reset_at = datetime.fromisoformat(reset["data"]["reset_at"])
    deadline = time.monotonic() + 5
    while datetime.now(UTC) <= reset_at and time.monotonic() < deadline:  # a link handed out after it
        time.sleep(0.05)
    link = local(get_link(catalogue_client, video, old_token))
    feed(catalogue_pool, identity_pool, account_id, "PasswordReset", HANDLERS)
    assert catalogue_client.get(link).status_code == 403
    new_token = log_in_with_new_password(identity_client, unique_email)
    assert catalogue_client.get(local(get_link(catalogue_client, video, new_token))).status_code == 200


def test_a_link_asked_for_with_the_old_token_while_the_reset_is_applied_is_no_link(
    catalogue_client, catalogue_pool, identity_client, identity_pool, video, unique_email
):
    """The request's token check reads no revocation yet; then, before its link is recorded, the worker
    applies the PasswordReset (in a transaction left open here). The link the old token gets then must
    not outlive the token: refused, or revoked with the others."""
    old_token = sign_up(identity_client, identity_pool, unique_email)
    account_id = account_of(old_token)
    get_link(catalogue_client, video, old_token)  # the account is known: its row is there to lock
    reset_password(identity_client, identity_pool, unique_email)
    [raw] = [e for e in account_events(identity_pool, account_id) if e["type"] == "PasswordReset"]
    event = parse_event(json.dumps(raw))
    answers: list[Any] = []

    def ask() -> None:
        answers.append(catalogue_client.post(links_path(video), headers=bearer(old_token)))

    with catalogue_pool.connection() as conn, conn.transaction():
        HANDLERS["PasswordReset"](conn, event, validate_data(event.type, event.data))
        asking = threading.Thread(target=ask)
        asking.start()
        asking.join(timeout=1.0)  # it is answered now unless it waits for the reset to be applied
    asking.join(timeout=10.0)
    [answer] = answers
    if answer.status_code == 201:
        assert catalogue_client.get(local(answer.json["url"])).status_code == 403
    else:
        assert answer.status_code == 403 and answer.json["type"].endswith("token-revoked")


def test_unknown_videos_and_renditions_are_404(catalogue_client, video, token):
    for path in (
        f"/v1/videos/{uuid.uuid4()}/renditions/{video['renditions'][0]['id']}/download-links",
        f"/v1/videos/{video['id']}/renditions/{uuid.uuid4()}/download-links",
    ):
        response = catalogue_client.post(path, headers=bearer(token))
        assert response.status_code == 404 and response.content_type == "application/problem+json"


def test_nginx_can_serve_the_bytes(make_catalogue, catalogue_client, video, token):
    url = local(get_link(catalogue_client, video, token))
    proxied = create_app(make_catalogue(x_accel_redirect_prefix="/protected-media")).test_client()
    response = proxied.get(url)
    assert response.status_code == 200 and response.data == b""
    key = response.headers["X-Accel-Redirect"]
    assert key.startswith("/protected-media/test/") and key.endswith(".mp4")
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_file_lost_from_storage_is_503_not_500(catalogue_client, video, token, media_root):
    url = local(get_link(catalogue_client, video, token))
    for path in media_root.joinpath("test").iterdir():
        if path.stat().st_size == len(CONTENT):
            path.unlink()
    for response in (catalogue_client.get(url), catalogue_client.head(url)):
        assert response.status_code == 503 and response.content_type == "application/problem+json"


def test_ingest_is_for_catalogue_editors_and_refuses_bad_input(
    catalogue_client, media_root, served_identity, identity_pool
):
    body = {"title": {"en": "x"}, "published_at": "2021-01-01T00:00:00Z", "duration": 1, "renditions": []}
    imports = "/v1/videos/imports"
    assert catalogue_client.post(imports, json=body).status_code == 401
    assert catalogue_client.post(imports, json=body, headers=bearer("wrong")).status_code == 401
    support = staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT)
    refused = catalogue_client.post(imports, json=body, headers=bearer(support))
    assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    rendition = {"label": "a", "container": "mp4", "codec": "h264", "width": 1, "height": 1, "bitrate": 1}
    for path in ("../../etc/passwd", "/etc/passwd", "test/../../x", "missing/file.mp4"):
        response = catalogue_client.post(
            imports, json={**body, "renditions": [{**rendition, "path": path}]}, headers=editor()
        )
        assert response.status_code == 422, path
        assert "renditions.0.path" in response.json["errors"]
    bad_bodies = ({**body, "extra": 1}, {**body, "duration": "long"}, {**body, "renditions": "x"},
                  {**body, "title": "one language"}, {**body, "title": {"en": " ", "fr": ""}})  # fmt: skip
    for bad in bad_bodies:
        response = catalogue_client.post(imports, json=bad, headers=editor())
        assert response.status_code == 422 and response.content_type == "application/problem+json"
    not_an_object = catalogue_client.post(imports, json=[1], headers=editor())
    assert not_an_object.status_code == 400 and not_an_object.json["type"].endswith("malformed-request")
    huge = catalogue_client.post(
        imports, data=b"{" + b" " * 300_000 + b"}", content_type="application/json", headers=editor()
    )
    assert huge.status_code == 413 and huge.content_type == "application/problem+json"
