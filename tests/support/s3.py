"""A real S3 server for the tests: the local S3Proxy named by AWS_ENDPOINT_URL (`make test` starts it
with the rest of deploy/local's infrastructure), else a private one started with deploy/local/s3proxy.sh
in a temporary state folder (the containers tier)."""

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from catalogue.adapters.s3 import s3_config
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/local/s3proxy.sh"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    created: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """What points boto3 (in a test or a service process) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, **config: Any) -> Any:
        """A client of this server; `config`, botocore Config's settings over the catalogue's."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=s3_config().merge(Config(**config)),
        )

    def new_bucket(self) -> str:
        """A bucket of its own for a test run (removed with `remove_created`)."""
        name = f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        self.created.append(name)
        return name

    def remove_created(self) -> None:
        """Empty and delete the buckets `new_bucket` made: the local store is shared by every run."""
        client = self.client()
        for name in self.created:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for item in page.get("Contents", []):
                    client.delete_object(Bucket=name, Key=item["Key"])
            client.delete_bucket(Bucket=name)
        self.created.clear()


@contextmanager
def s3_server(folder: Path) -> Iterator[S3Server]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        yield S3Server(endpoint, os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
        return
    with private_s3proxy(folder) as server:
        yield server


@contextmanager
def private_s3proxy(folder: Path) -> Iterator[S3Server]:
    """An S3Proxy of its own, started with deploy/local/s3proxy.sh in the state folder `folder`: its
    objects in `s3proxy_data(folder)`, its bucket catalogue-media."""
    port = free_port()
    s3proxy_script(folder, port, "start")
    try:
        yield S3Server(f"http://127.0.0.1:{port}", "local-identity", "local-credential")
    finally:
        s3proxy_script(folder, port, "stop")


def s3proxy_script(folder: Path, port: int, command: str) -> None:
    env = {**os.environ, "STATE_DIR": str(folder), "S3PROXY_PORT": str(port)}
    subprocess.run(["bash", str(SCRIPT), command], env=env, check=True)


def s3proxy_data(folder: Path) -> Path:
    return folder / "s3proxy" / "data"
