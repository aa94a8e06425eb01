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
