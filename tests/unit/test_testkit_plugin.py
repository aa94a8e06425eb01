"""The testkit's pytest plugin as another team meets it first: without the images built from this
repository, the stack fails at once naming them, before it starts any container.

Against a fake engine: nothing is pulled or started."""

import docker

from accounts_testkit import containers, plugin

pytest_plugins = ["pytester"]

HELD = {"postgres:16", "apache/kafka:4.1.1"}  # pulled before, say; the accounts images never built


class FakeImages:
    def get(self, name: str) -> object:
        if name not in HELD:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return object()

    def pull(self, name: str) -> object:
        raise docker.errors.NotFound(f"pull access denied for {name}, repository does not exist")


class FakeDockerClient:
    def __init__(self) -> None:
        self.client = self
        self.images = FakeImages()


class FakeStack:
    """What ContainerStack does without the images: starts the infrastructure, then fails to pull."""

    started: list[str] = []

    def __init__(self, *_: object) -> None:
        pass

    def __enter__(self) -> "FakeStack":
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def start_infrastructure(self) -> "FakeStack":
        FakeStack.started.append("postgres, kafka")
        raise docker.errors.NotFound("pull access denied for accounts-smtp-sink, repository does not exist")


def test_images_neither_held_nor_pullable_fail_the_stack_naming_them(pytester, monkeypatch):
    for name in ("POSTGRES", "KAFKA", "SMTP_SINK", "IDENTITY", "MAILER"):
        monkeypatch.delenv(f"ACCOUNTS_{name}_IMAGE", raising=False)  # the defaults
    monkeypatch.setattr(plugin, "engine_problem", lambda: None)
    monkeypatch.setattr(plugin, "ContainerStack", FakeStack)
    monkeypatch.setattr(containers, "DockerClient", FakeDockerClient)
    FakeStack.started = []
    pytester.makepyfile("def test_uses_the_stack(accounts_stack):\n    pass\n")

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "the accounts stack needs images the engine neither holds nor can pull" in output
    assert all(name in output for name in ("accounts-smtp-sink", "accounts-identity", "accounts-mailer"))
    assert "postgres:16 (" not in output
    assert "ACCOUNTS_<NAME>_IMAGE" in output
    assert FakeStack.started == []


CANCELLED_RUN_CONFTEST = '''
from pathlib import Path

from accounts_testkit import plugin


class RecordingStack:
    """Stands for the containers: its removal is written down, as the engine would see it."""

    def __init__(self, *_):
        pass

    def __enter__(self):
        Path("started").write_text("yes")
        return self

    def __exit__(self, *_):
        Path("removed").write_text("yes")

    def start_infrastructure(self):
        return self

    def start_services(self):
        return self


plugin.ContainerStack = RecordingStack
plugin.engine_problem = lambda: None
plugin.missing_images = lambda images: []
'''


def test_a_run_cancelled_with_sigterm_still_removes_the_stack(pytester):
    """CI cancels a job, or a timeout kills it, with SIGTERM: Python's default ends the process at
    once, with no teardown, and under Podman (Ryuk off) nothing else removes the containers."""
    pytester.makeconftest(CANCELLED_RUN_CONFTEST)
    pytester.makepyfile(
        "import os, signal\n\n"
        "def test_cancelled_midway(accounts_stack):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n\n"
        "def test_never_run(accounts_stack):\n"
        "    pass\n"
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)

    assert (pytester.path / "started").exists()
    assert (pytester.path / "removed").exists(), result.stdout.str()
    assert result.ret != 0
