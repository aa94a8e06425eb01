"""Publishing videos through running processes: the catalogue's web (tus uploads), transcoder and relay,
identity for the tokens, Kafka. A generated 1080p master is uploaded by tuspy (interrupted, resumed),
made into a video, transcoded, published: the renditions are probed, their sha256s checked against the
bytes downloaded, and VideoPublished read from Kafka. A transcoder killed mid-job: its job finishes on
the restarted worker, and no rendition is listed before every one is stored. The whole journey runs
once with the files in a folder and once in an S3 bucket (S3Proxy)."""

import base64
import hashlib
import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tusclient import client as tus

from accounts_common.events import Topic
from accounts_common.events.topics import OPERATOR_ACTIONS, VIDEO_EVENTS
from catalogue.migrations import CATALOGUE_MIGRATIONS
from tests.conftest import RUN_ID, Infra, fresh_topics, migrated_database
from tests.e2e.conftest import Stack, stack_staff_header, verified_account
from tests.support.catalogue import small_video
from tests.support.http import call
from tests.support.kafka import TopicReader
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, stop_all
from tests.support.s3 import S3Server
from tests.support.staff import AdminGrants

PREFIX = f"e2e-publishing-{RUN_ID}."
TRANSCODE_TIMEOUT_S = 300  # a failure bound on two busy cores, not a speed claim


@dataclass
class Publishing:
    url: str
    database_url: str
    storage: Path
    editor: dict[str, str]
    transcoder: ServiceProcess
    logs: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return call("GET", self.url + path, headers=headers)


@pytest.fixture(scope="module", params=["local"])
def publishing(
    request: pytest.FixtureRequest,
    stack: Stack,
    infra: Infra,
    staff_admin: AdminGrants,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Publishing]:
    """The catalogue's processes with their files in a folder ("local") or in a bucket of S3Proxy ("s3")."""
    logs, media = tmp_path_factory.mktemp("publishing-logs"), tmp_path_factory.mktemp("publishing-media")
    topics = (Topic(PREFIX + VIDEO_EVENTS, partitions=1), Topic(PREFIX + OPERATOR_ACTIONS, partitions=1))
    fresh_topics(infra, *topics)
    port = free_port()
    database = migrated_database(infra, f"e2e_publishing_{request.param}", CATALOGUE_MIGRATIONS)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "CATALOGUE_DATABASE_URL": database,
        "CATALOGUE_DOWNLOAD_LINK_KEY": f"e2e-link-key-{uuid.uuid4().hex}",
        "CATALOGUE_STORAGE_ROOT": str(media),
        "CATALOGUE_UPLOAD_ROOT": str(media / ".uploads"),
        "CATALOGUE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CATALOGUE_TOPIC_PREFIX": PREFIX,
        "CATALOGUE_TRANSCODER_LEASE_S": "4",
        "IDENTITY_JWKS_URL": f"{stack.identity_url}/.well-known/jwks.json",
    }
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3")
        env |= {**s3.env, "CATALOGUE_STORAGE": f"s3://{s3.new_bucket()}/media"}
    metrics = {"CATALOGUE_RELAY_METRICS_PORT": "0", "CATALOGUE_TRANSCODER_METRICS_PORT": "0"}
    web = ServiceProcess("catalogue-web", ["catalogue", "web", "--port", str(port)], env, logs).start()
    relay = ServiceProcess("catalogue-relay", ["catalogue", "relay"], env | metrics, logs).start()
    transcoder = ServiceProcess(
        "catalogue-transcoder", ["catalogue", "transcoder"], env | metrics, logs
    ).start()
    running = [web, relay, transcoder]
    try:
        web.wait_http(f"http://127.0.0.1:{port}/readyz")
        editor = stack_staff_header(stack, infra, staff_admin, "catalogue-editor")
        yield Publishing(
            f"http://127.0.0.1:{port}", env["CATALOGUE_DATABASE_URL"], media, editor, transcoder, logs
        )
    finally:
        stop_all(running)


def probe(data: bytes, path: Path) -> dict[str, Any]:
    path.write_bytes(data)
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def upload_interrupted(publishing: Publishing, master: Path) -> str:
    """Upload with tuspy: two chunks, the client gone, a new client resuming from the server's offset."""
    uploads = f"{publishing.url}/v1/uploads/"
    first = tus.TusClient(uploads, headers=publishing.editor).uploader(str(master), chunk_size=256 * 1024)
    first.upload_chunk()
    first.upload_chunk()
    resumed = tus.TusClient(uploads, headers=publishing.editor).uploader(
        str(master), url=first.url, chunk_size=4 * 2**20
    )
    assert resumed.offset == 512 * 1024
    resumed.upload()
    return str(first.url)


def create_video(publishing: Publishing, upload_url: str, title: str) -> str:
    body = {"upload_url": upload_url, "title": {"en": title, "fr": f"{title} (fr)"}, "tags": ["e2e"]}
    status, accepted = call("POST", f"{publishing.url}/v1/videos", body, publishing.editor)
    assert (status, accepted["status"]) == (202, "processing"), accepted
    return str(accepted["id"])


def wait_ready(publishing: Publishing, video_id: str) -> dict[str, Any]:
    """The video once ready; on the way, no rendition is ever listed before it is."""

    def ready() -> dict[str, Any] | None:
        status, video = publishing.get(f"/v1/videos/{video_id}", publishing.editor)
        assert status == 200, video
        assert video["status"] in ("processing", "ready"), video
        if video["status"] == "processing":
            assert video["renditions"] == [] and 0 <= video["progress"] < 100
            return None
        return video

    return wait_for(ready, timeout=TRANSCODE_TIMEOUT_S, what=f"video {video_id} ready", interval=0.3)


@pytest.mark.parametrize("publishing", ["local", "s3"], indirect=True)
def test_a_1080p_upload_is_resumed_transcoded_published_and_announced(publishing, stack, infra, tmp_path):
    master = small_video(tmp_path / "master.mp4", "1920x1080", 2)
    reader = TopicReader(infra.kafka, PREFIX + VIDEO_EVENTS)
    try:
        video_id = create_video(
            publishing, upload_interrupted(publishing, master), f"Summit {uuid.uuid4().hex[:6]}"
        )
        ready = wait_ready(publishing, video_id)
        assert [r["height"] for r in ready["renditions"]] == [1080, 1080, 720, 360]
        assert ready["renditions"][0]["sha256"] == hashlib.sha256(master.read_bytes()).hexdigest()
        status, published = call(
            "POST", f"{publishing.url}/v1/videos/{video_id}/publication", None, publishing.editor
        )
        assert (status, published["status"]) == (200, "published")

        token = verified_account(
            stack.identity_url, infra.inbox, f"viewer-{uuid.uuid4().hex[:8]}@example.org"
        )
        for rendition in published["renditions"]:
            links = f"{publishing.url}/v1/videos/{video_id}/renditions/{rendition['id']}/download-links"
            status, link = call("POST", links, headers={"Authorization": f"Bearer {token}"})
            assert status == 201, link
            with urllib.request.urlopen(link["url"], timeout=60) as response:
                data, digest = response.read(), response.headers["Repr-Digest"]
            assert hashlib.sha256(data).hexdigest() == rendition["sha256"]
            assert digest == f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
            assert len(data) == rendition["size_bytes"]
            if rendition["label"].endswith("MP4"):
                found = probe(data, tmp_path / f"{rendition['height']}.mp4")
                [picture] = [s for s in found["streams"] if s["codec_type"] == "video"]
                assert (picture["codec_name"], picture["width"], picture["height"]) == (
                    "h264", rendition["width"], rendition["height"]
                )  # fmt: skip
                assert abs(float(found["format"]["duration"]) - 2.0) < 0.3
        with urllib.request.urlopen(published["preview_url"], timeout=60) as response:  # no account needed
            preview = response.read()
        assert probe(preview, tmp_path / "preview.mp4")["format"]["format_name"].startswith("mov,mp4")

        records = reader.read_until(
            lambda records: any(json.loads(r.value)["type"] == "VideoPublished" for r in records),
            timeout=60, what="VideoPublished on Kafka",
        )  # fmt: skip
        [event] = [json.loads(r.value) for r in records if json.loads(r.value)["type"] == "VideoPublished"]
        assert event["subject"] == video_id and event["source"] == "/catalogue"
        assert event["data"]["title"]["fr"].endswith("(fr)")
        assert [r["sha256"] for r in event["data"]["renditions"]] == [
            r["sha256"] for r in published["renditions"]
        ]
    finally:
        reader.close()


def test_a_transcoder_killed_mid_job_leaves_nothing_listed_and_the_restarted_one_finishes(
    publishing, tmp_path
):
    master = small_video(tmp_path / "long.mp4", "1280x720", 8)
    video_id = create_video(publishing, upload_interrupted(publishing, master), "Killed midway")

    def encoding() -> bool:
        status, video = publishing.get(f"/v1/videos/{video_id}", publishing.editor)
        assert video["status"] == "processing" and video["renditions"] == [], video
        return video["progress"] > 1

    wait_for(encoding, timeout=TRANSCODE_TIMEOUT_S, what="ffmpeg under way", interval=0.1)
    publishing.transcoder.stop(sig=9)
    restarted = ServiceProcess(
        "catalogue-transcoder-2", publishing.transcoder.argv, publishing.transcoder.env, publishing.logs
    ).start()
    try:
        ready = wait_ready(publishing, video_id)
    finally:
        restarted.stop()
    assert [r["height"] for r in ready["renditions"]] == [720, 720, 360]
    with psycopg.connect(publishing.database_url) as conn:
        row = conn.execute("SELECT attempts FROM transcode_jobs WHERE video_id = %s", (video_id,)).fetchone()
        keys = dict(
            conn.execute(
                "SELECT id::text, storage_key FROM renditions WHERE video_id = %s", (video_id,)
            ).fetchall()
        )
    assert row is not None and row[0] == 2  # taken again once the killed worker's lease ran out
    for rendition in ready["renditions"]:
        stored = publishing.storage / keys[rendition["id"]]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == rendition["sha256"]
