"""The container files follow one pattern, so new services join the builds and no secret is baked in."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(REPO.glob("services/*/Dockerfile")) + sorted(
    REPO.glob("deploy/containers/**/*Dockerfile")
)
SECRET_WORDS = re.compile(r"KEY|SECRET|TOKEN|PASSWORD", re.IGNORECASE)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_image_takes_its_base_as_an_argument_and_holds_no_secret(dockerfile):
    text = dockerfile.read_text()
    assert re.search(r"^ARG BASE_IMAGE=\S+$", text, re.MULTILINE), "ARG BASE_IMAGE=<default> before FROM"
    assert re.findall(r"^FROM (.+)$", text, re.MULTILINE) == ["${BASE_IMAGE}"]
    settings = re.findall(r"^(?:ENV|ARG) (.+)$", text, re.MULTILINE)
    assert not [line for line in settings if SECRET_WORDS.search(line)], (
        "no key, secret or password in an image"
    )


@pytest.mark.parametrize(
    "dockerfile", sorted(REPO.glob("services/*/Dockerfile")), ids=lambda path: path.parent.name
)
def test_service_images_start_from_an_upstream_python_and_run_unprivileged(dockerfile):
    text = dockerfile.read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert re.search(r"^USER [1-9]\d*$", text, re.MULTILINE)


def test_image_builds_leave_out_state_environments_and_history():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".state", ".venv"} <= set(ignored)


def test_every_compose_image_is_overridable_and_defaults_to_an_upstream_one():
    services = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        assert re.fullmatch(r"\$\{ACCOUNTS_[A-Z_]+_IMAGE:-[^}]+\}", service["image"]), name
        assert "localhost/" not in service["image"], f"{name}: the default must not need make containers"
