"""The container files follow one pattern, so new services join the builds and no secret is baked in."""

import importlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(REPO.glob("deploy/containers/**/*Dockerfile"))
SERVICE_DOCKERFILE = REPO / "deploy" / "containers" / "service.Dockerfile"
SERVICES = sorted(path.parent.name for path in REPO.glob("services/*/pyproject.toml"))
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


def test_service_images_start_from_an_upstream_python_and_run_unprivileged():
    text = SERVICE_DOCKERFILE.read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert re.search(r"^USER [1-9]\d*$", text, re.MULTILINE)


def test_nginx_stops_without_cutting_the_requests_in_flight():
    # A rollout of the Kubernetes edge or of a catalogue pod ends its nginx with the image's STOPSIGNAL.
    text = (REPO / "deploy" / "containers" / "nginx.Dockerfile").read_text()
    assert re.search(r"^STOPSIGNAL SIGQUIT$", text, re.MULTILINE)
    assert "exec nginx" in (REPO / "deploy" / "containers" / "nginx-entrypoint.sh").read_text(), (
        "nginx is the container's first process, which the signal reaches"
    )


def test_image_builds_leave_out_state_environments_and_history():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".state", ".venv"} <= set(ignored)


def test_every_compose_image_is_overridable_and_defaults_to_an_upstream_one():
    services = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        assert re.fullmatch(r"\$\{ACCOUNTS_[A-Z_]+_IMAGE:-[^}]+\}", service["image"]), name
        assert "localhost/" not in service["image"], f"{name}: the default must not need make containers"


@pytest.mark.parametrize("service", SERVICES)
def test_the_web_command_of_each_image_is_sized_by_the_environment(service, monkeypatch):
    """No --workers in CMD: `<service> web` reads WEB_CONCURRENCY, so compose and k8s size it."""
    shell, flag, script = json.loads(
        re.findall(r"^CMD (.+)$", SERVICE_DOCKERFILE.read_text(), re.MULTILINE)[-1]
    )
    assert (shell, flag) == ("sh", "-c")
    command = shlex.split(script.replace("$SERVICE", service))
    assert command == ["exec", service, "web", "--host", "0.0.0.0"]
    command = command[1:]
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    started = {}
    monkeypatch.setattr("accounts_common.cli.exec_gunicorn", lambda *args, **kwargs: started.update(kwargs))
    importlib.import_module(f"{service}.entrypoints.cli").main(command[1:])
    assert started["workers"] == 7


def test_compose_builds_every_service_image_from_the_one_template():
    services = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    built = {
        service["build"]["args"]["SERVICE"]
        for service in services.values()
        if service.get("build", {}).get("dockerfile") == "deploy/containers/service.Dockerfile"
    }
    assert built == set(SERVICES)


def test_compose_web_processes_add_up_their_workers_and_prometheus_reaches_every_process():
    services = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    web = {name for name in services if name.endswith("-web")}
    for name, service in services.items():
        multiprocess = service.get("environment", {}).get("PROMETHEUS_MULTIPROC_DIR")
        assert bool(multiprocess) == (name in web), name
    dockerfile = (REPO / "deploy" / "containers" / "prometheus.Dockerfile").read_text()
    jobs = dict(re.findall(r"([a-z-]+)=\1:(\d+)", dockerfile))
    background = ("-worker", "-relay", "-transcoder", "-audit-log")
    assert set(jobs) == web | {name for name in services if name.endswith(background)}
    hosts = {name: value for name, value in services["identity-relay"]["environment"].items()}
    assert {hosts[f"{job.replace('-', '_').upper()}_METRICS_HOST"] for job in jobs if job not in web} == {
        "0.0.0.0"
    }


PODMAN_SH = Path(__file__).resolve().parents[2] / "deploy" / "containers" / "podman.sh"


def test_podman_stop_leaves_alone_a_process_that_got_a_stale_pid(tmp_path: Path) -> None:
    """After a reboot the Docker API process's pid file names a pid the system hands out again:
    `podman.sh stop` (make clean-containers) must not kill whatever holds it now."""
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        (tmp_path / "service.pid").write_text(f"{bystander.pid}\n")
        stopped = subprocess.run(
            ["bash", str(PODMAN_SH), "stop"],
            env={**os.environ, "PODMAN_STATE_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert bystander.poll() is None, "podman.sh stop killed a process that is not its API service"
    finally:
        bystander.kill()
        bystander.wait()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not (tmp_path / "service.pid").exists()
