"""Fuzzing the catalogue's OpenAPI document with schemathesis against the in-process app and a real
database: no 5xx, and every answer (status, content type, headers, body) is one the document declares."""

import uuid

import pytest
import schemathesis

from catalogue.adapters.storage import LocalStorage
from catalogue.entrypoints.app import create_app
from tests.integration.catalogue.conftest import add_video, editor
from tests.integration.conftest import bearer, sign_up
from tests.support.fuzzing import ODD, documented_operations, fuzz_every_operation, has_inputs
from tests.support.outbox import oldest_pending_age

# Schema-valid data may still be refused for what no schema can state: a link whose signature is not
# right (403) or whose time is over (410), a video or rendition that does not exist (404), a token
# or editor token that is not valid (401/403), and, for ingest, a path where storage holds no file
# (422: the state of the storage, not the shape of the request).
ACCEPTED = ["2xx", "401", "403", "404", "410", "422"]


# tus PATCH bodies are bytes, like any application/octet-stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


@pytest.fixture
def fuzzed_app(make_catalogue):  # type: ignore[no-untyped-def]
    return create_app(make_catalogue())


def test_every_operation_is_documented_with_its_errors(fuzzed_app):
    document = fuzzed_app.test_client().get("/openapi.json").json
    assert documented_operations(fuzzed_app) == {
        ("/v1/videos", "get"),
        ("/v1/videos", "post"),
        ("/v1/videos/imports", "post"),
        ("/v1/videos/{video_id}", "get"),
        ("/v1/videos/{video_id}", "patch"),
        ("/v1/videos/{video_id}", "delete"),
        ("/v1/videos/{video_id}/transcoding", "post"),
        ("/v1/videos/{video_id}/publication", "post"),
        ("/v1/videos/{video_id}/publication", "delete"),
        ("/v1/videos/{video_id}/thumbnail", "get"),
        ("/v1/videos/{video_id}/poster", "get"),
        ("/v1/videos/{video_id}/preview", "get"),
        ("/v1/uploads/", "options"),
        ("/v1/uploads/", "post"),
        ("/v1/uploads/{upload_id}", "head"),
        ("/v1/uploads/{upload_id}", "patch"),
        ("/v1/uploads/{upload_id}", "delete"),
        ("/v1/videos/{video_id}/renditions/{rendition_id}/download-links", "post"),
        ("/v1/downloads/{grant_id}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    for path, method in (
        ("/v1/uploads/", "post"),
        ("/v1/uploads/{upload_id}", "patch"),
        ("/v1/videos", "post"),
    ):
        assert "507" in document["paths"][path][method]["responses"], (path, method)  # a full disk
    assert "409" in document["paths"]["/v1/videos/{video_id}"]["delete"]["responses"]
    assert "409" in document["paths"]["/v1/videos/{video_id}/transcoding"]["post"]["responses"]
    links = document["paths"]["/v1/videos/{video_id}/renditions/{rendition_id}/download-links"]["post"]
    assert {"201", "401", "403", "404", "default"} <= set(links["responses"])
    download = document["paths"]["/v1/downloads/{grant_id}"]["get"]["responses"]
    assert {"200", "206", "304", "403", "410", "416"} <= set(download)
    preview = document["paths"]["/v1/videos/{video_id}/preview"]["get"]["responses"]
    assert {"200", "206", "304", "404", "416"} <= set(preview)
    assert "Repr-Digest" in preview["206"]["headers"] and "Repr-Digest" in download["200"]["headers"]


def test_the_images_document_the_ranges_they_answer(fuzzed_app, media_root):
    client = fuzzed_app.test_client()
    thumbnail = f"test/{uuid.uuid4().hex}.jpg"
    LocalStorage(media_root).write(thumbnail, b"a small jpeg")
    video = add_video(client, media_root, thumbnail=thumbnail)
    paths = client.get("/openapi.json").json["paths"]
    for kind in ("thumbnail", "poster"):
        assert {"200", "206", "304", "404", "416"} <= set(
            paths[f"/v1/videos/{{video_id}}/{kind}"]["get"]["responses"]
        )
    documented = paths["/v1/videos/{video_id}/thumbnail"]["get"]["responses"]
    for asked, status in (("bytes=0-4", 206), ("bytes=100-", 416)):
        answer = client.get(f"/v1/videos/{video['id']}/thumbnail", headers={"Range": asked})
        assert answer.status_code == status and str(status) in documented
    assert "Content-Range" in documented["206"]["headers"]


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE, ODD]
)
def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    fuzzed_app, served_identity, identity_pool, media_root, unique_email, mode
):
    client = fuzzed_app.test_client()
    add_video(client, media_root, title="Fuzzed")
    token = sign_up(served_identity.app.test_client(), identity_pool, unique_email)

    def credentials(case) -> dict[str, str]:  # type: ignore[no-untyped-def]
        editing = case.method in ("POST", "PATCH", "DELETE") and case.path.startswith("/v1/videos")
        return editor() if editing and "download-links" not in case.path else bearer(token)

    fuzz_every_operation(fuzzed_app, mode, credentials, accepted=ACCEPTED, negatable=has_inputs)


def test_metrics_tell_how_long_the_oldest_unpublished_event_has_waited(fuzzed_app):
    """What the OutboxNotPublishing alert reads, for this service's relay."""
    assert oldest_pending_age(fuzzed_app.test_client().get("/metrics").text) is not None
