"""Downloads through running processes: identity (web, relay) and the catalogue's web and worker.
A verified account gets a link and the exact bytes; its PasswordReset reaches the catalogue over
Kafka and the old token is refused there within seconds."""

import hashlib
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from accounts_common.events import Topic, dead_letter_topic
from catalogue.migrations import CATALOGUE_MIGRATIONS
from tests.conftest import RUN_ID, Infra, fresh_topics, migrated_database
from tests.e2e.conftest import Stack, stack_staff_header
from tests.support.http import call
from tests.support.inbox import CODE_PATTERN, code_in
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, stop_all

PASSWORD = "Correct-Horse-9!"
NEW_PASSWORD = "Brand-New-Secret-42?"
CONTENT = hashlib.sha256(b"seed").digest() * 20_000


@dataclass(frozen=True)
class RunningCatalogue:
    url: str
    database_url: str


@pytest.fixture(scope="module")
def running_catalogue(
    stack: Stack, infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCatalogue]:
    logs, media = tmp_path_factory.mktemp("catalogue-logs"), tmp_path_factory.mktemp("catalogue-media")
    (media / "e2e").mkdir()
    (media / "e2e" / "clip.mp4").write_bytes(CONTENT)
    group = f"catalogue-e2e-{RUN_ID}"
    fresh_topics(infra, Topic(dead_letter_topic(group), partitions=1))
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "CATALOGUE_TOPIC_PREFIX": stack.topic_prefix,  # its worker follows the stack's account events
        "CATALOGUE_DATABASE_URL": migrated_database(infra, "e2e_catalogue", CATALOGUE_MIGRATIONS),
        "CATALOGUE_CONSUMER_GROUP": group,
        "CATALOGUE_DOWNLOAD_LINK_KEY": f"e2e-link-key-{uuid.uuid4().hex}",
        "CATALOGUE_STORAGE_ROOT": str(media),
        "CATALOGUE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDENTITY_JWKS_URL": f"{stack.identity_url}/.well-known/jwks.json",
    }
    processes = [
        ServiceProcess("catalogue-web", ["catalogue", "web", "--port", str(port)], env, logs),
        ServiceProcess(
            "catalogue-worker", ["catalogue", "worker"], env | {"CATALOGUE_WORKER_METRICS_PORT": "0"}, logs
        ),
    ]
    for process in processes:
        process.start()
    try:
        processes[0].wait_http(f"http://127.0.0.1:{port}/readyz")
        yield RunningCatalogue(f"http://127.0.0.1:{port}", env["CATALOGUE_DATABASE_URL"])
    finally:
        stop_all(processes)


def verified_token(identity_url: str, infra: Infra, email: str) -> str:
    """Sign up through identity's API with the code from the inbox; the access token."""
    status, registered = call("POST", f"{identity_url}/v1/accounts", {"email": email, "password": PASSWORD})
    assert status == 202
    code = code_in(infra.inbox.wait_for_messages(email)[0])
    verification = {"email": email, "code": code, "registration_id": registered["registration_id"]}
    status, body = call("POST", f"{identity_url}/v1/accounts/verification", verification)
    assert status == 200, body
    return body["access_token"]


def reset_password(identity_url: str, infra: Infra, email: str) -> None:
    seen = {message["id"] for message in infra.inbox.messages(email)}
    call("POST", f"{identity_url}/v1/password-resets", {"email": email})

    def new_code_mail():  # type: ignore[no-untyped-def]
        # The welcome mail of the verification may still arrive in between: it holds no code.
        fresh = [m for m in infra.inbox.messages(email) if m["id"] not in seen]
        return next((m for m in fresh if CODE_PATTERN.search(m["text"] or "")), None)

    code = code_in(wait_for(new_code_mail, timeout=30, what=f"the password reset code to {email}"))
    status, body = call(
        "POST", f"{identity_url}/v1/password-resets/verification", {"email": email, "code": code}
    )
    assert status == 200, body
    status, _ = call(
        "POST",
        f"{identity_url}/v1/password-resets/completion",
        {"reset_token": body["reset_token"], "new_password": NEW_PASSWORD},
    )
    assert status == 200


def known_accounts(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM known_accounts").fetchone()
    return int(row[0]) if row else 0


def test_a_verified_account_downloads_and_a_password_reset_revokes_its_old_token(
    stack, running_catalogue, infra, staff_admin, unique_email
):
    catalogue = running_catalogue.url
    rendition = {"label": "720p MP4", "container": "mp4", "codec": "h264", "width": 1280, "height": 720,
                 "bitrate": 3_000_000, "path": "e2e/clip.mp4"}  # fmt: skip
    video = {"title": {"en": "End to end", "fr": "De bout en bout"}, "published_at": "2021-02-11T14:00:00Z",
             "duration": 4, "renditions": [rendition]}  # fmt: skip
    editor = stack_staff_header(stack, infra, staff_admin, "catalogue-editor")
    status, created = call("POST", f"{catalogue}/v1/videos/imports", video, editor)
    assert status == 201, created
    links = (
        f"{catalogue}/v1/videos/{created['id']}/renditions/{created['renditions'][0]['id']}/download-links"
    )
    assert call("POST", links)[0] == 401

    token = verified_token(stack.identity_url, infra, unique_email)
    status, link = call("POST", links, headers={"Authorization": f"Bearer {token}"})
    assert status == 201, link
    with urllib.request.urlopen(link["url"], timeout=30) as response:
        assert response.status == 200
        assert hashlib.sha256(response.read()).hexdigest() == created["renditions"][0]["checksum"]
    wait_for(lambda: known_accounts(running_catalogue.database_url) >= 1, timeout=30,
             what="AccountVerified to reach the catalogue's projection")  # fmt: skip

    reset_password(stack.identity_url, infra, unique_email)
    wait_for(
        lambda: call("POST", links, headers={"Authorization": f"Bearer {token}"})[0] == 403,
        timeout=30,
        what="PasswordReset to reach the catalogue over Kafka",
        interval=0.2,
    )
