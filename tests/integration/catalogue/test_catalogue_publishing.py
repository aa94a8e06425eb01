"""Publishing videos (DESIGN §9) in-process against the real PostgreSQL and real ffmpeg: tus uploads by
tuspy (a real client) over real HTTP, a video made of an upload, the transcoder's jobs, publication and
withdrawal with their events and audit records in the catalogue's outbox, both languages."""

import base64
import hashlib
import json
import os
import socket
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tusclient import client as tus

from accounts_common.roles import Role
from catalogue.adapters import job_store, video_store
from catalogue.entrypoints.app import create_app
from catalogue.service_layer.transcoder import Transcoder
from tests.integration.catalogue.conftest import add_video, editor, unique_word
from tests.integration.conftest import bearer, sign_up, staff_token
from tests.support.catalogue import small_video, videos_cannot_be_recorded
from tests.support.served import ServedIdentity

TUS = {"Tus-Resumable": "1.0.0"}


class ServedCatalogue:
    """The catalogue app on a real port (tuspy speaks HTTP), its public URL that port's."""

    def __init__(self, make_catalogue) -> None:  # type: ignore[no-untyped-def]
        self.served = ServedIdentity(create_app(make_catalogue()))
        self.url = self.served.jwks_url.removesuffix("/.well-known/jwks.json")
        self.catalogue = make_catalogue(public_url=self.url)
        self.served.app = create_app(self.catalogue)
        self.client = self.served.app.test_client()

    def uploads_url(self) -> str:
        return f"{self.url}/v1/uploads/"


@pytest.fixture
def served(make_catalogue):  # type: ignore[no-untyped-def]
    running = ServedCatalogue(make_catalogue)
    yield running
    running.served.close()


def tus_upload(served: ServedCatalogue, path: Path, chunk_size: int = 2**20) -> str:
    uploader = tus.TusClient(served.uploads_url(), headers=editor()).uploader(
        str(path), chunk_size=chunk_size
    )
    uploader.upload()
    return str(uploader.url)


def rfc9530_sha256(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def submit(served: ServedCatalogue, upload_url: str, **fields: Any) -> dict[str, Any]:
    """Make a video of the upload, the only job waiting (the test database is shared by the tests)."""
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        conn.execute("UPDATE transcode_jobs SET finished_at = now() WHERE finished_at IS NULL")
    word = unique_word()
    body = {
        "upload_url": upload_url,
        "title": {"en": f"Ministers meet {word}", "fr": f"Les ministres se réunissent {word}"},
        "description": {
            "en": "Defence ministers meet in Brussels.",
            "fr": "Les ministres de la Défense à Bruxelles.",
        },
        "tags": ["Defence"],
        "people": ["Jens Stoltenberg"],
        "location": "Brussels",
        **fields,
    }
    response = served.client.post("/v1/videos", json=body, headers=editor())
    assert response.status_code == 202, response.json
    assert response.json["status"] == "processing"
    return {"id": response.json["id"], "word": word}


def outbox_events(served: ServedCatalogue, subject: str) -> list[dict[str, Any]]:
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        rows = conn.execute(
            """SELECT topic, record_value FROM outbox WHERE record_key = %s OR record_value LIKE %s
               ORDER BY id""",
            (subject, f"%{subject}%"),
        ).fetchall()
    return [{"topic": topic, **json.loads(value)} for topic, value in rows]


def test_tuspy_uploads_and_an_interrupted_upload_resumes_from_its_offset(served, tmp_path):
    data = os.urandom(3 * 2**20 + 123)
    (tmp_path / "master.bin").write_bytes(data)
    first = tus.TusClient(served.uploads_url(), headers=editor()).uploader(
        str(tmp_path / "master.bin"), chunk_size=2**20
    )
    first.upload_chunk()  # then the client goes away
    url = str(first.url)
    head = served.client.head(url.removeprefix(served.url), headers=editor() | TUS)
    assert (head.status_code, head.headers["Upload-Offset"], head.headers["Tus-Resumable"]) == (
        200,
        str(2**20),
        "1.0.0",
    )
    again = tus.TusClient(served.uploads_url(), headers=editor()).uploader(
        str(tmp_path / "master.bin"), url=url, chunk_size=2**20
    )
    assert again.offset == 2**20  # asked the server (HEAD) where to go on
    again.upload()
    upload_id = uuid.UUID(url.rsplit("/", 1)[1])
    assert served.catalogue.uploads.path(upload_id).read_bytes() == data


def test_a_patch_cut_short_keeps_the_bytes_that_arrived_and_tuspy_resumes_there(served, tmp_path):
    data = os.urandom(2**20)
    (tmp_path / "master.bin").write_bytes(data)
    created = served.client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": str(len(data))})
    assert created.status_code == 201 and created.headers["Location"].startswith(served.url)
    path = created.headers["Location"].removeprefix(served.url)
    sent = 300_000
    with socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1]))) as connection:
        head = (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n"
                f"Authorization: {editor()['Authorization']}\r\n\r\n")  # fmt: skip
        connection.sendall(head.encode() + data[:sent])
    offset = wait_for_offset(served, path, sent)
    assert offset == sent
    uploader = tus.TusClient(served.uploads_url(), headers=editor()).uploader(
        str(tmp_path / "master.bin"), url=served.url + path, chunk_size=2**18
    )
    uploader.upload()
    assert served.catalogue.uploads.path(uuid.UUID(path.rsplit("/", 1)[1])).read_bytes() == data


def wait_for_offset(served: ServedCatalogue, path: str, expected: int) -> int:
    """The upload's offset once the server has finished with the cut request (its lock released)."""
    done = threading.Event()
    for _ in range(200):
        offset = int(served.client.head(path, headers=editor() | TUS).headers["Upload-Offset"])
        if offset == expected and _unlocked(served, path):
            return offset
        done.wait(0.05)
    return offset


def _unlocked(served: ServedCatalogue, path: str) -> bool:
    probe_patch = served.client.patch(
        path,
        data=b"",
        headers=editor() | TUS | {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    return probe_patch.status_code != 423


def test_the_tus_protocol_answers_and_refusals(served, served_identity, identity_pool, unique_email):
    client = served.client
    options = client.options("/v1/uploads/")
    assert options.status_code == 204
    assert (options.headers["Tus-Version"], options.headers["Tus-Extension"]) == (
        "1.0.0",
        "creation,termination,expiration",
    )
    assert int(options.headers["Tus-Max-Size"]) > 2**31
    wrong_version = client.post("/v1/uploads/", headers=editor() | {"Upload-Length": "5"})
    assert (wrong_version.status_code, wrong_version.headers["Tus-Version"]) == (412, "1.0.0")
    for length in ("", "-1", "ten", "1" * 30):
        assert (
            client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": length}).status_code == 400
        )
    huge = str(served.catalogue.settings.max_upload_bytes + 1)
    assert client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": huge}).status_code == 413
    created = client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": "10"})
    path = created.headers["Location"].removeprefix(served.url)
    octets = {"Content-Type": "application/offset+octet-stream"}
    assert client.patch(path, data=b"abc", headers=editor() | TUS | {"Upload-Offset": "0"}).status_code == 415
    assert (
        client.patch(path, data=b"abc", headers=editor() | TUS | octets | {"Upload-Offset": "3"}).status_code
        == 409
    )
    too_long = client.patch(path, data=b"x" * 11, headers=editor() | TUS | octets | {"Upload-Offset": "0"})
    assert too_long.status_code == 413
    written = client.patch(path, data=b"abcd", headers=editor() | TUS | octets | {"Upload-Offset": "0"})
    assert (written.status_code, written.headers["Upload-Offset"]) == (204, "4")
    other_editor = bearer(
        staff_token(served_identity.app.extensions["identity"], identity_pool, Role.CATALOGUE_EDITOR)
    )
    assert client.head(path, headers=other_editor | TUS).status_code == 404
    plain = bearer(sign_up(served_identity.app.test_client(), identity_pool, unique_email))
    refused = client.post("/v1/uploads/", headers=plain | TUS | {"Upload-Length": "5"})
    assert refused.status_code == 403 and refused.json["type"].endswith("role-required")
    assert client.post("/v1/uploads/", headers=TUS | {"Upload-Length": "5"}).status_code == 401
    assert client.delete(path, headers=editor() | TUS).status_code == 204
    assert client.head(path, headers=editor() | TUS).status_code == 404
    assert client.head(f"/v1/uploads/{uuid.uuid4()}", headers=editor() | TUS).status_code == 404


def test_an_upload_becomes_a_video_transcoded_published_and_withdrawn(served, tmp_path):
    master = small_video(tmp_path / "master.mp4")
    video = submit(served, tus_upload(served, master))
    client, video_path = served.client, f"/v1/videos/{video['id']}"
    processing = client.get(video_path, headers=editor()).json
    assert (processing["status"], processing["progress"], processing["renditions"]) == ("processing", 0, [])
    assert client.get(video_path).status_code == 404  # not public yet
    assert client.post(f"{video_path}/publication", headers=editor()).status_code == 409

    assert Transcoder(served.catalogue).run_once() is True
    ready = client.get(video_path, headers=editor()).json
    assert (ready["status"], ready["progress"], ready["failure"]) == ("ready", 100, None)
    assert [r["label"] for r in ready["renditions"]] == ["Broadcast master (MP4)", "720p MP4", "360p MP4"]
    assert client.get(video_path).status_code == 404  # ready, not published
    storage_root = Path(served.catalogue.settings.storage_root)
    for rendition in ready["renditions"]:
        stored = storage_root / repository_key(served, video["id"], rendition["id"])
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == rendition["sha256"]
        assert stored.stat().st_size == rendition["size_bytes"]
    assert hashlib.sha256(master.read_bytes()).hexdigest() == ready["renditions"][0]["sha256"]
    for rendition, height in zip(ready["renditions"][1:], (720, 360), strict=True):
        found = probe(storage_root / repository_key(served, video["id"], rendition["id"]))
        [picture] = [s for s in found["streams"] if s["codec_type"] == "video"]
        [sound] = [s for s in found["streams"] if s["codec_type"] == "audio"]
        assert (picture["codec_name"], picture["height"], sound["codec_name"]) == ("h264", height, "aac")
        assert abs(float(found["format"]["duration"]) - 1.0) < 0.2
        assert (rendition["width"], rendition["height"]) == (picture["width"], height)
    assert ready["duration"] == pytest.approx(1.0, abs=0.2)
    for name, kind in (
        ("poster_url", "image/jpeg"),
        ("thumbnail", "image/jpeg"),
        ("preview_url", "video/mp4"),
    ):
        answer = client.get(ready[name].removeprefix(served.url), headers=editor())
        assert (answer.status_code, answer.content_type) == (200, kind), name
        # Every file answer carries the RFC 9530 digest of the bytes it sends (computed once, remembered).
        assert answer.headers["Repr-Digest"] == rfc9530_sha256(answer.data), name
        again = client.get(ready[name].removeprefix(served.url), headers=editor())
        assert again.headers["Repr-Digest"] == answer.headers["Repr-Digest"], name
    preview_range = client.get(
        ready["preview_url"].removeprefix(served.url), headers=editor() | {"Range": "bytes=0-99"}
    )
    assert preview_range.status_code == 206 and len(preview_range.data) == 100
    whole_preview = client.get(ready["preview_url"].removeprefix(served.url), headers=editor()).data
    assert preview_range.headers["Repr-Digest"] == rfc9530_sha256(whole_preview)  # of the whole file

    published = client.post(f"{video_path}/publication", headers=editor())
    assert published.status_code == 200 and published.json["status"] == "published"
    assert published.json["published_at"] is not None
    public = client.get(video_path)
    assert public.status_code == 200 and public.json["title"]["fr"].startswith("Les ministres")
    found_fr = client.get("/v1/videos", query_string={"q": f"réunissent {video['word']}"}).json["items"]
    assert [item["id"] for item in found_fr] == [video["id"]]
    assert client.get(ready["preview_url"].removeprefix(served.url)).status_code == 200  # no account needed

    assert client.delete(f"{video_path}/publication", headers=editor()).status_code == 204
    assert client.get(video_path).status_code == 404
    assert client.get(video_path, headers=editor()).json["status"] == "ready"

    events = outbox_events(served, video["id"])
    kinds = [(event["type"], event["topic"]) for event in events]
    assert ("VideoPublished", "catalogue.video-events.v1") in kinds
    assert ("VideoUnpublished", "catalogue.video-events.v1") in kinds
    audit = [event["data"]["action"] for event in events if event["type"] == "OperatorActionRecorded"]
    assert audit == ["video.created", "video.published", "video.unpublished"]
    [announced] = [event for event in events if event["type"] == "VideoPublished"]
    assert announced["data"]["title"]["en"].startswith("Ministers meet")
    assert [r["sha256"] for r in announced["data"]["renditions"]] == [
        r["sha256"] for r in ready["renditions"]
    ]


def repository_key(served: ServedCatalogue, video_id: str, rendition_id: str) -> str:
    with served.catalogue.pool.connection() as conn:
        rendition = video_store.find_rendition(conn, uuid.UUID(video_id), uuid.UUID(rendition_id))
    assert rendition is not None
    return rendition.storage_key


def test_an_import_published_at_once_is_in_the_trail_as_created_and_published(served, media_root):
    """Who made a video public is read from the trail's video.published: an import is public at once."""
    video = add_video(served.client, media_root, title="Imported")
    assert served.client.get(f"/v1/videos/{video['id']}").status_code == 200  # public, no token
    events = outbox_events(served, video["id"])
    audit = [event["data"]["action"] for event in events if event["type"] == "OperatorActionRecorded"]
    assert audit == ["video.created", "video.published"]


def test_a_small_master_is_never_upscaled(served, tmp_path):
    video = submit(served, tus_upload(served, small_video(tmp_path / "small.mp4", size="320x240")))
    assert Transcoder(served.catalogue).run_once() is True
    ready = served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json
    assert [(r["label"], r["height"]) for r in ready["renditions"]] == [
        ("Broadcast master (MP4)", 240), ("240p MP4", 240)
    ]  # fmt: skip


def test_what_is_not_a_video_fails_with_the_reason(served, tmp_path):
    (tmp_path / "notes.txt").write_text("These are not moving pictures.\n" * 100)
    video = submit(served, tus_upload(served, tmp_path / "notes.txt"))
    assert Transcoder(served.catalogue).run_once() is True
    failed = served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json
    assert failed["status"] == "failed" and "video" in failed["failure"].lower()
    assert failed["renditions"] == []
    assert served.client.post(f"/v1/videos/{video['id']}/publication", headers=editor()).status_code == 409


def test_a_video_needs_a_finished_upload_of_its_editor(served, served_identity, identity_pool):
    client = served.client
    created = client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": "10"})
    unfinished = {"upload_url": created.headers["Location"], "title": {"en": "Unfinished"}}
    answer = client.post("/v1/videos", json=unfinished, headers=editor())
    assert answer.status_code == 422 and "upload_url" in answer.json["errors"]
    for url in (f"{served.url}/v1/uploads/{uuid.uuid4()}", "https://elsewhere.example/file.mp4", "x"):
        answer = client.post("/v1/videos", json={"upload_url": url, "title": {"en": "No"}}, headers=editor())
        assert answer.status_code == 422 and "upload_url" in answer.json["errors"], url
    other = bearer(
        staff_token(served_identity.app.extensions["identity"], identity_pool, Role.CATALOGUE_EDITOR)
    )
    assert client.post("/v1/videos", json=unfinished, headers=other).status_code == 422


def test_two_workers_never_hold_one_job_and_a_lapsed_lease_is_taken_again(served, tmp_path):
    video = submit(served, tus_upload(served, small_video(tmp_path / "m.mp4", size="320x240", seconds=0.5)))
    video_id = uuid.UUID(video["id"])
    url = served.catalogue.settings.database_url
    with psycopg.connect(url) as first, psycopg.connect(url) as second:
        held = job_store.claim_job(first, "worker-a", 60)  # first's transaction still open: row locked
        assert held is not None and held.video_id == video_id
        assert claimed_video(second, "worker-b") != video_id  # skipped, not waited for
        first.commit()
        second.commit()
        assert claimed_video(second, "worker-b") != video_id  # leased to worker-a
        second.commit()
        lapse = "UPDATE transcode_jobs SET lease_expires_at = now() - interval '1 second' WHERE video_id = %s"
        second.execute(lapse, (video_id,))
        second.commit()
        again = job_store.claim_job(second, "worker-b", 60)
        second.commit()
        assert again is not None and (again.video_id, again.attempts) == (video_id, 2)
        assert not job_store.renew_lease(first, held, "worker-a", 60, 50)  # worker-a has lost it
        assert not job_store.extend_lease(first, held, "worker-a", 60)
        assert job_store.extend_lease(second, again, "worker-b", 60)
        second.commit()
        assert not job_store.hold_job(first, held, "worker-a")
        first.commit()


def claimed_video(conn: psycopg.Connection, worker: str) -> uuid.UUID | None:
    """The video of the job a worker claims now; other tests' jobs are given back untouched."""
    job = job_store.claim_job(conn, worker, 60)
    if job is None:
        return None
    give_back = (
        "UPDATE transcode_jobs SET lease_expires_at = NULL, attempts = attempts - 1 WHERE video_id = %s"
    )
    conn.execute(give_back, (job.video_id,))
    return job.video_id


def test_editors_edit_metadata_in_both_languages_and_it_is_audited(served, tmp_path):
    video = submit(served, tus_upload(served, small_video(tmp_path / "e.mp4", size="320x240", seconds=0.5)))
    path = f"/v1/videos/{video['id']}"
    edited = served.client.patch(path, json={"title": {"en": "Edited", "fr": "Modifié"}, "tags": ["A", "a "]},
                                 headers=editor())  # fmt: skip
    assert edited.status_code == 200, edited.json
    assert (edited.json["title"], edited.json["tags"]) == ({"en": "Edited", "fr": "Modifié"}, ["a"])
    french = served.client.patch(path, json={"title": {"fr": "Bonjour"}, "description": {"en": "New."}},
                                 headers=editor())  # fmt: skip
    assert french.status_code == 200, french.json
    assert french.json["title"] == {"en": "Edited", "fr": "Bonjour"}  # only the language sent changes
    assert french.json["description"] == {"en": "New.", "fr": "Les ministres de la Défense à Bruxelles."}
    english_gone = served.client.patch(path, json={"title": {"en": ""}}, headers=editor())
    assert english_gone.json["title"] == {"en": "", "fr": "Bonjour"}
    for untitled in ({"fr": " "}, {"en": "", "fr": ""}, {}):
        refused = served.client.patch(path, json={"title": untitled}, headers=editor())
        assert refused.status_code == 422 and "title" in str(refused.json["errors"]), untitled
    assert served.client.get(path, headers=editor()).json["title"] == {"en": "", "fr": "Bonjour"}
    actions = [
        e["data"]["action"]
        for e in outbox_events(served, video["id"])
        if e["type"] == "OperatorActionRecorded"
    ]
    assert actions == ["video.created", "video.edited", "video.edited", "video.edited"]


def test_a_job_given_back_for_later_is_not_taken_before_then(served, tmp_path):
    video = submit(served, tus_upload(served, small_video(tmp_path / "r.mp4", size="320x240", seconds=0.5)))
    video_id = uuid.UUID(video["id"])
    with psycopg.connect(served.catalogue.settings.database_url, autocommit=True) as conn:
        held = job_store.claim_job(conn, "worker-a", 60)
        assert held is not None and held.video_id == video_id
        job_store.release_job(conn, held, "worker-a", retry_after_s=60)
        assert claimed_video(conn, "worker-b") != video_id  # not yet
        job_store.release_job(conn, held, "worker-a")  # no longer worker-a's: nothing changes
        assert claimed_video(conn, "worker-b") != video_id
        lapse = "UPDATE transcode_jobs SET lease_expires_at = now() - interval '1 second' WHERE video_id = %s"
        conn.execute(lapse, (video_id,))
        again = job_store.claim_job(conn, "worker-b", 60)
        assert again is not None and (again.video_id, again.attempts) == (video_id, 2)


def stored_masters(served: ServedCatalogue) -> set[Path]:
    return set(Path(served.catalogue.settings.storage_root).glob("videos/*/master*"))


def test_a_video_that_cannot_be_recorded_leaves_no_master_and_the_upload_whole(served, tmp_path):
    master = small_video(tmp_path / "whole.mp4", size="320x240", seconds=0.5)
    upload_url = tus_upload(served, master)
    body = {"upload_url": upload_url, "title": {"en": unique_word()}}
    before = stored_masters(served)
    with videos_cannot_be_recorded(served.catalogue.settings.database_url):
        failed = served.client.post("/v1/videos", json=body, headers=editor())
    assert failed.status_code == 500
    assert stored_masters(served) == before  # the copy was removed with its transaction
    assert not list(Path(served.catalogue.settings.storage_root).glob("videos/*/master.part"))
    path = upload_url.removeprefix(served.url)
    head = served.client.head(path, headers=editor() | TUS)
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, str(master.stat().st_size))
    video = submit(served, upload_url)  # the upload, whole, is made into a video after all
    [added] = stored_masters(served) - before
    assert added.read_bytes() == master.read_bytes() and video["id"] in str(added)


def test_an_expired_upload_is_not_made_into_a_video(served, make_catalogue, tmp_path):
    (tmp_path / "old.bin").write_bytes(b"old bytes")
    upload_url = tus_upload(served, tmp_path / "old.bin")
    expired = create_app(make_catalogue(public_url=served.url, upload_expiry_s=0)).test_client()
    answer = expired.post(
        "/v1/videos", json={"upload_url": upload_url, "title": {"en": "Late"}}, headers=editor()
    )
    assert answer.status_code == 422 and "upload_url" in answer.json["errors"]


def test_a_job_given_back_by_stopping_workers_is_not_failed_for_it(served, tmp_path):
    # A worker stopping (a deployment, a scale-down) gives its job back at once: that is no attempt of the
    # job's, or a long transcode would fail "interrupted" after a few deployments.
    video = submit(served, tus_upload(served, small_video(tmp_path / "s.mp4", size="320x240", seconds=0.5)))
    stopping = threading.Event()
    stopping.set()
    for _ in range(served.catalogue.settings.transcoder_max_attempts + 1):
        assert Transcoder(served.catalogue, "worker-stopping").run_once(stopping)
        assert served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json["status"] == "processing"
    assert Transcoder(served.catalogue, "worker-b").run_once()
    done = served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json
    assert (done["status"], done["failure"]) == ("ready", None)


def test_a_submission_sent_twice_answers_the_one_video_made(served, served_identity, identity_pool, tmp_path):
    # A form sent twice (a double click), or sent again after a timeout: the upload is already that
    # editor's video, which is the answer, not a refusal that sends the editor to upload it again.
    upload_url = tus_upload(served, small_video(tmp_path / "twice.mp4", size="320x240", seconds=0.5))
    first = submit(served, upload_url)
    body = {"upload_url": upload_url, "title": {"en": f"Ministers meet {first['word']}"}}
    again = served.client.post("/v1/videos", json=body, headers=editor())
    assert (again.status_code, again.json["id"]) == (202, first["id"]), again.json
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        made = conn.execute("SELECT count(*) FROM videos WHERE title_en LIKE %s", (f"%{first['word']}",))
        assert made.fetchone() == (1,)
    other = bearer(
        staff_token(served_identity.app.extensions["identity"], identity_pool, Role.CATALOGUE_EDITOR)
    )
    refused = served.client.post("/v1/videos", json=body, headers=other)  # not theirs: nothing to see
    assert refused.status_code == 422 and "upload_url" in refused.json["errors"]


@pytest.mark.parametrize("round_", range(3))
def test_a_submission_sent_twice_at_once_answers_the_one_video_made_to_both(served, tmp_path, round_):
    """A double click: the two requests arrive together, and the one that does not make the video waits
    for the other and answers the video it made, not 423 or 409 (the first's page is gone by then)."""
    upload_url = tus_upload(served, small_video(tmp_path / "double-click.mp4", size="320x240", seconds=0.5))
    word = unique_word()
    body = {"upload_url": upload_url, "title": {"en": f"Ministers meet {word}"}}
    together = threading.Barrier(2)

    def send(_: int) -> tuple[int, str]:
        together.wait(timeout=10)
        response = served.served.app.test_client().post("/v1/videos", json=body, headers=editor())
        return response.status_code, response.json.get("id") or response.json.get("type")

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, range(2)))
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        [made] = conn.execute("SELECT id::text FROM videos WHERE title_en LIKE %s", (f"%{word}",)).fetchall()
    assert answers == [(202, made[0])] * 2
