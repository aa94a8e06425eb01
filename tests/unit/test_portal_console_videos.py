"""The console's Videos page (catalogue editors) with a fake of the catalogue's HTTP API behind it."""

import json
import re
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from portal.adapters.catalogue import EditorClient
from portal.adapters.http import ApiError, JsonApi, ServiceUnavailable
from portal.adapters.uploads import TusAnswer, TusForwarder
from tests.support.served import FakeHandler, serving
from tests.unit.test_portal import (
    UPLOAD,
    AdminIdentity,
    EditorIdentity,
    FakeEditor,
    csrf_token,
    portal_client,
    staff_client,
)
from tests.unit.test_portal_console_session import EndedSession


class ManyVideos:
    """The catalogue's GET /v1/videos for an editor: 120 videos, `per_page` a page (20 unless asked),
    and its 422 past page 10,000."""

    base_url = "http://catalogue.invalid"

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             query: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:  # fmt: skip
        assert (method, path) == ("GET", "/v1/videos")
        page, per_page = int((query or {}).get("page", 1)), int((query or {}).get("per_page", 20))
        if page > 10_000:
            raise ApiError(422, "validation-error", errors={"page": ["Must be between 1 and 10000."]})
        every = [{**FakeEditor.VIDEO, "id": f"v-{n}", "title": {"en": f"Video {n}"}} for n in range(120)]
        items = every[(page - 1) * per_page : page * per_page]
        return {"items": items, "total": len(every), "page": page, "per_page": per_page}


def client():  # type: ignore[no-untyped-def]
    return staff_client(EditorIdentity(), editor=EditorClient(ManyVideos()))  # type: ignore[arg-type]


def test_every_video_can_be_reached_page_by_page():
    first = client().get("/console/videos")
    assert first.status_code == 200 and "Video 0<" in first.text and "Video 50<" not in first.text
    assert "Page 1 of 3" in first.text and 'href="/console/videos?page=2">Next page' in first.text
    last = client().get("/console/videos?page=3")
    assert last.status_code == 200 and "Video 119<" in last.text and "Page 3 of 3" in last.text
    assert 'href="/console/videos?page=2">Previous page' in last.text and "Next page" not in last.text


@pytest.mark.parametrize("page", ["4", "10001"])
def test_a_page_past_the_last_says_so_and_leads_to_the_first(page):
    answer = client().get(f"/console/videos?page={page}")
    assert answer.status_code == 404
    assert "This page of the list does not exist." in answer.text
    assert 'href="/console/videos">Go to the first page' in answer.text
    assert '<h2 id="new-video-heading">' in answer.text


class CatalogueDown:
    """The catalogue not answering (restarting, say)."""

    def videos(self, token: str, *_: Any, **__: Any) -> dict[str, Any]:
        raise ServiceUnavailable("catalogue", "connection refused")

    video = create = edit = videos


TEXTS = {"title_en": "Exercise", "title_fr": "Exercice", "description_en": "Long text",
         "description_fr": "Texte long"}  # fmt: skip


@pytest.mark.parametrize("path", ["/console/videos", f"/console/videos/{UPLOAD}"])
def test_texts_saved_while_the_catalogue_is_down_stay_on_their_page_to_save_again(path):
    client = staff_client(EditorIdentity(), editor=CatalogueDown())
    token = csrf_token(client, "/console")
    form = {"csrf_token": token, "upload": f"/console/videos/uploads/{UPLOAD}", **TEXTS}
    refused = client.post(path, data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 503
    assert "Le catalogue vidéo est indisponible." in refused.text
    assert re.search(rf'<form method="post" action="{path}"', refused.text)
    assert 'value="Exercice"' in refused.text and ">Texte long</textarea>" in refused.text


class RecordingUploads:
    """The catalogue's tus endpoint behind the portal: the length each request passed on announces,
    and the bytes it carries."""

    def __init__(self) -> None:
        self.forwarded: list[tuple[str | None, bytes]] = []

    def forward(
        self, method: str, path: str, token: str, headers: dict[str, str], body: Any = None
    ) -> TusAnswer:
        self.forwarded.append((headers.get("Content-Length"), body.read() if body is not None else b""))
        return TusAnswer(204, {"Tus-Resumable": "1.0.0"}, b"")


UPLOAD_PATH = f"/console/videos/uploads/{UPLOAD}"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/console/videos/uploads/", {"data": {"a": "1"}}),
        ("HEAD", UPLOAD_PATH, {"data": {"a": "1"}}),
        ("DELETE", UPLOAD_PATH, {"data": {"a": "1"}}),
        ("PATCH", UPLOAD_PATH, {"json": {"a": 1}}),  # read by the portal's input guard before the view
        ("PATCH", UPLOAD_PATH, {"data": b"12345", "content_type": "application/offset+octet-stream"}),
    ],
)
def test_a_tus_request_passed_on_never_announces_a_body_it_does_not_carry(method, path, body):
    # A catalogue told of bytes that never come waits for them: the portal's worker times out (a 500).
    uploads = RecordingUploads()
    client = staff_client(EditorIdentity(), uploads=uploads)
    headers = {"X-CSRFToken": csrf_token(client, "/console/videos"), "Tus-Resumable": "1.0.0"}
    answer = client.open(path, method=method, headers=headers, **body)
    assert answer.status_code < 500
    announced = [(length, len(sent)) for length, sent in uploads.forwarded if length is not None]
    assert all(length == str(sent) for length, sent in announced), announced


def test_a_chunk_is_passed_on_whole_with_its_length():
    uploads = RecordingUploads()
    client = staff_client(EditorIdentity(), uploads=uploads)
    headers = {"X-CSRFToken": csrf_token(client, "/console/videos"), "Tus-Resumable": "1.0.0",
               "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}  # fmt: skip
    chunk = client.patch(UPLOAD_PATH, data=b"12345", headers=headers)
    assert chunk.status_code == 204 and uploads.forwarded == [("5", b"12345")]


class DiskFull(FakeHandler):
    """The catalogue with its disk full: a tus chunk, or a new video whose upload must be copied as its
    master, refused with 507 (the bytes received before kept, the upload whole)."""

    def do_PATCH(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        problem = {"type": "https://errors.example/insufficient-storage", "status": 507,
                   "title": "Insufficient Storage", "detail": "The catalogue's disk is full."}  # fmt: skip
        self.answer(507, json.dumps(problem).encode(), "application/problem+json")

    do_POST = do_PATCH  # noqa: N815 - http.server's name

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.answer(200, json.dumps({"items": [], "total": 0, "page": 1, "per_page": 20}).encode())


def test_a_new_video_the_catalogue_has_no_room_for_says_so_and_keeps_the_texts():
    # Not "the catalogue is unavailable, try again in a few minutes": it answers, and it takes room.
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), DiskFull)) as catalogue:
        api = JsonApi("catalogue", f"http://127.0.0.1:{catalogue.server_port}", timeout=5)
        client = staff_client(EditorIdentity(), editor=EditorClient(api))
        form = {"csrf_token": csrf_token(client, "/console/videos"), "upload": UPLOAD_PATH, **TEXTS}
        refused = client.post("/console/videos", data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 507
    assert "Le disque du catalogue est plein" in refused.text
    assert 'value="Exercice"' in refused.text and ">Texte long</textarea>" in refused.text
    assert f'value="{UPLOAD_PATH}"' in refused.text


def test_a_chunk_the_catalogue_has_no_room_for_is_said_to_be_a_full_disk_not_an_outage():
    # The page's script says so, and resumes once room is made; a 503 page would say the line broke.
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), DiskFull)) as catalogue:
        uploads = TusForwarder(f"http://127.0.0.1:{catalogue.server_port}", timeout=5)
        client = staff_client(EditorIdentity(), uploads=uploads)
        headers = {"X-CSRFToken": csrf_token(client, "/console/videos"), "Tus-Resumable": "1.0.0",
                   "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}  # fmt: skip
        chunk = client.patch(UPLOAD_PATH, data=b"12345", headers=headers)
    assert chunk.status_code == 507, chunk.text
    assert chunk.json["type"].endswith("/insufficient-storage")


class UploadBeingWritten(FakeEditor):
    """The catalogue refusing a new video while a request still writes to its upload (423)."""

    def videos(self, token: str, page: int = 1) -> dict[str, Any]:
        return {"items": [], "total": 0, "page": page, "per_page": 50}

    def create(self, token: str, upload_id: str, texts: dict[str, dict[str, str]]) -> dict[str, Any]:
        raise ApiError(423, "upload-locked", "A request is writing to this upload; try again when it ends.")


def test_a_new_video_from_an_upload_still_being_written_says_to_wait_next_to_the_upload():
    client = staff_client(EditorIdentity(), editor=UploadBeingWritten())
    token = csrf_token(client, "/console/videos")
    form = {"csrf_token": token, "upload": UPLOAD_PATH, **TEXTS}
    refused = client.post("/console/videos", data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 409 and f'value="{UPLOAD_PATH}"' in refused.text
    errors = re.search(r'<ul class="errors" id="upload-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Le fichier est encore en cours d’envoi" in errors.group(1)


class TitleRequired(FakeEditor):
    """The catalogue refusing a video's texts without a title in either language, as it does (422)."""

    def edit(
        self, token: str, video_id: str, texts: dict[str, dict[str, str]], texts_version: str | None = None
    ) -> None:
        if not (texts["title"]["en"] or texts["title"]["fr"]):
            errors = {"title": ["A title in English, in French or both."]}
            raise ApiError(422, "validation-error", "The request is not valid.", errors=errors)
        super().edit(token, video_id, texts, texts_version)


def test_texts_saved_without_any_title_say_so_next_to_the_title_and_stay_on_the_page():
    editor = TitleRequired()
    client = staff_client(EditorIdentity(), editor=editor)
    token = csrf_token(client, f"/console/videos/{UPLOAD}")
    form = {**TEXTS, "csrf_token": token, "title_en": " ", "title_fr": ""}
    refused = client.post(f"/console/videos/{UPLOAD}", data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 400 and editor.saved == []
    errors = re.search(r'<ul class="errors" id="title_en-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Donnez un titre à la vidéo." in errors.group(1)
    assert ">Texte long</textarea>" in refused.text


class SharedVideo(FakeEditor):
    """One video two editors open: a save changes the texts every later reader sees, and their version;
    one sent with an older version is refused, as the catalogue does (409 texts-changed)."""

    def __init__(self) -> None:
        super().__init__()
        self.current: dict[str, Any] = dict(FakeEditor.VIDEO)

    def video(self, token: str, video_id: str) -> dict[str, object]:
        return self.current

    def edit(
        self, token: str, video_id: str, texts: dict[str, dict[str, str]], texts_version: str | None = None
    ) -> None:
        if texts_version not in (None, self.current["texts_version"]):
            raise ApiError(409, "texts-changed", "The video's texts were saved again since.")
        super().edit(token, video_id, texts, texts_version)
        self.current = {**self.current, **texts, "texts_version": f"version-{len(self.saved) + 1}"}


def read_copy(page: str) -> dict[str, str]:
    """The hidden fields of the texts' form on a video's page (the CSRF token, the copy read)."""
    form = re.search(rf'<form method="post" action="/console/videos/{UPLOAD}"(.*?)</form>', page, re.S)
    assert form is not None
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)))


def test_texts_saved_over_a_copy_another_editor_saved_since_are_refused_and_kept_to_save_again():
    shared = SharedVideo()
    first, second = (staff_client(EditorIdentity(), editor=shared) for _ in range(2))
    path = f"/console/videos/{UPLOAD}"
    opened_first, opened_second = read_copy(first.get(path).text), read_copy(second.get(path).text)
    saved = second.post(path, data={**opened_second, **TEXTS, "description_fr": "Texte de l’autre"})
    assert saved.status_code == 303 and len(shared.saved) == 1
    assert shared.versions_sent == ["version-1"]  # the catalogue judges it, under the video's lock

    mine = {**TEXTS, "title_en": "Mine"}
    refused = first.post(path, data={**opened_first, **mine}, headers={"Accept-Language": "fr"})
    assert refused.status_code == 409 and len(shared.saved) == 1  # the other editor's text stays
    assert "a été enregistrée à nouveau après que vous l’avez ouverte" in refused.text
    assert 'value="Mine"' in refused.text  # what this editor typed is still there, to save again
    as_saved = first.get(f"{path}?as=saved")  # the link to compare: the texts saved, no draft put back
    assert f'href="{path}?as=saved"' in refused.text and "data-keep-draft" not in as_saved.text
    assert 'value="Exercise"' in as_saved.text and "Texte de l’autre</textarea>" in as_saved.text

    again = first.post(path, data={**read_copy(refused.text), **mine})
    assert again.status_code == 303 and shared.saved[-1]["title"]["en"] == "Mine"


class Removals(FakeEditor):
    """The editor API with one video of `status`: what was tried again and deleted, or `refusal`."""

    def __init__(
        self, status: str = "failed", deletable: bool = True, refusal: ApiError | None = None
    ) -> None:
        super().__init__()
        self.status, self.deletable, self.refusal = status, deletable, refusal
        self.retried: list[str] = []
        self.deleted: list[str] = []

    def video(self, token: str, video_id: str) -> dict[str, object]:
        failure = "ffmpeg failed" if self.status == "failed" else None
        return {**self.VIDEO, "status": self.status, "deletable": self.deletable, "failure": failure}

    def retry(self, token: str, video_id: str) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.retried.append(video_id)

    def delete(self, token: str, video_id: str) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.deleted.append(video_id)


VIDEO_PAGE = f"/console/videos/{UPLOAD}"
RETRY, DELETION = f"{VIDEO_PAGE}/transcoding", f"{VIDEO_PAGE}/deletion"


@pytest.mark.parametrize(
    ("status", "deletable", "buttons"),
    [("failed", True, {RETRY, DELETION}), ("ready", True, {DELETION}), ("ready", False, set()),
     ("published", False, set()), ("processing", True, {DELETION})],
)  # fmt: skip
def test_a_failed_video_may_be_tried_again_and_one_never_published_deleted(status, deletable, buttons):
    page = staff_client(EditorIdentity(), editor=Removals(status, deletable)).get(VIDEO_PAGE)
    assert page.status_code == 200
    assert {path for path in (RETRY, DELETION) if f'action="{path}"' in page.text} == buttons


def test_try_again_queues_the_transcoding_and_says_so_in_french():
    editor = Removals("failed")
    client = staff_client(EditorIdentity(), editor=editor)
    page = client.get(VIDEO_PAGE, headers={"Accept-Language": "fr"})
    assert ">Réessayer</button>" in page.text and ">Supprimer</button>" in page.text
    answer = client.post(RETRY, data={"csrf_token": csrf_token(client, VIDEO_PAGE)},
                         headers={"Accept-Language": "fr"}, follow_redirects=True)  # fmt: skip
    assert answer.status_code == 200 and editor.retried == [UPLOAD]
    assert "La vidéo est de nouveau en cours de transcodage." in answer.text


def test_a_deletion_is_confirmed_first_then_done():
    editor = Removals("failed")
    client = staff_client(EditorIdentity(), editor=editor)
    token = csrf_token(client, VIDEO_PAGE)
    asked = client.post(DELETION, data={"csrf_token": token})
    assert asked.status_code == 200 and editor.deleted == []  # nothing deleted before the editor says yes
    assert "Delete this video for good?" in asked.text and 'role="alert"' in asked.text
    assert re.search(rf'<form method="post" action="{DELETION}" data-confirm-delete', asked.text)
    assert 'name="confirmed" value="yes"' in asked.text and f'href="{VIDEO_PAGE}">Not now' in asked.text
    done = client.post(DELETION, data={"csrf_token": token, "confirmed": "yes"})
    assert (done.status_code, done.headers["Location"]) == (303, "/console/videos")
    assert editor.deleted == [UPLOAD]
    assert "The video is deleted, with its files." in client.get("/console/videos").text


@pytest.mark.parametrize("path", [RETRY, DELETION])
def test_no_video_is_deleted_or_tried_again_without_the_form_or_the_role(path):
    editor = Removals("failed")
    forged = staff_client(EditorIdentity(), editor=editor).post(path, data={"confirmed": "yes"})
    assert forged.status_code == 400  # no CSRF token: another site's form
    admin = staff_client(AdminIdentity(), editor=editor)
    refused = admin.post(path, data={"csrf_token": csrf_token(admin, "/console"), "confirmed": "yes"})
    assert refused.status_code == 403
    assert editor.retried == editor.deleted == []


@pytest.mark.parametrize(
    ("path", "slug", "message"),
    [
        (RETRY, "master-gone", "Le fichier téléversé de la vidéo n’est plus conservé"),
        (RETRY, "conflict", "Seule une vidéo dont le transcodage a échoué peut être relancée."),
        (DELETION, "conflict", "Une vidéo qui a été publiée reste dans le catalogue"),
    ],
)
def test_what_the_catalogue_refuses_is_said_on_the_video_page(path, slug, message):
    client = staff_client(EditorIdentity(), editor=Removals("failed", refusal=ApiError(409, slug)))
    form = {"csrf_token": csrf_token(client, VIDEO_PAGE), "confirmed": "yes"}
    refused = client.post(path, data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 409 and message in refused.text
    assert '<h2 id="texts-heading">' in refused.text  # the video's page, with the error in it


@pytest.mark.parametrize("token", ["ended-token", None])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/console/videos/uploads/"), ("HEAD", f"/console/videos/uploads/{UPLOAD}"),
     ("PATCH", f"/console/videos/uploads/{UPLOAD}")],
)  # fmt: skip
def test_an_upload_whose_session_ended_is_told_so_not_sent_the_login_page(token, method, path):
    # A staff token lasts 15 minutes: a long upload outlives it. The page's script follows a redirect
    # and took the login page's 200 for a broken line, tried again and again, then "failed".
    client = portal_client(EndedSession(), config={"TESTING": False})
    login = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    with client.session_transaction() as session:
        session["token"] = token
    headers = {"X-CSRFToken": csrf, "Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Offset": "0"}
    ended = client.open(path, method=method, headers=headers, data=b"12345",
                        content_type="application/offset+octet-stream")  # fmt: skip
    assert ended.status_code == 401 and "Location" not in ended.headers
    assert ended.mimetype == "application/problem+json"
    assert method == "HEAD" or ended.json["type"].endswith("/session-ended")
