"""The testkit's ContainerStack: it removes every container it ran (one-shot commands run twice
included), bounds its waits on them, and restarts its broker only as far as the broker's own word.

Against fake testcontainers classes: nothing is started."""

from typing import Any

import pytest
import requests

from accounts_testkit import containers
from accounts_testkit.containers import ContainerStack, Images


class FakeContainer:
    made: list["FakeContainer"] = []
    hangs = False  # a one-shot command that never ends (a migration waiting on a lock, say)

    def __init__(self, image: str) -> None:
        self.image, self.command, self.removed = image, [""], False
        FakeContainer.made.append(self)

    def with_envs(self, **_env: str) -> "FakeContainer":
        return self

    def with_command(self, command: list[str]) -> "FakeContainer":
        self.command = command
        return self

    def with_network(self, _network: Any) -> "FakeContainer":
        return self

    def with_kwargs(self, **_kwargs: Any) -> "FakeContainer":
        return self

    def with_network_aliases(self, *_aliases: str) -> "FakeContainer":
        return self

    def start(self) -> "FakeContainer":
        return self

    def wait(self) -> int:  # testcontainers' own wait, which has no bound
        if FakeContainer.hangs:
            raise AssertionError("waited on a command that never ends, without a bound")
        return 0

    def get_wrapped_container(self) -> "FakeDockerPyContainer":
        return FakeDockerPyContainer()

    def get_logs(self) -> tuple[bytes, bytes]:
        return b"", b"waiting for the migrations' lock\n"

    def stop(self) -> None:
        self.removed = True


class FakeDockerPyContainer:
    def wait(self, timeout: float | None = None) -> dict[str, int]:
        if FakeContainer.hangs and timeout is None:
            raise AssertionError("waited on a command that never ends, without a bound")
        if FakeContainer.hangs:
            raise requests.exceptions.ReadTimeout("read timed out")  # what docker-py raises then
        return {"StatusCode": 0}


class FakeClient:
    def host(self) -> str:
        return "127.0.0.1"


class FakeNetwork:
    def __init__(self, **_options: Any) -> None:
        pass

    def create(self) -> None:
        pass

    def remove(self) -> None:
        pass


@pytest.fixture
def stack(monkeypatch) -> ContainerStack:
    FakeContainer.made, FakeContainer.hangs = [], False
    monkeypatch.setattr(containers, "DockerContainer", FakeContainer)
    monkeypatch.setattr(containers, "DockerClient", FakeClient)
    monkeypatch.setattr(containers, "Network", FakeNetwork)
    return ContainerStack(Images())


def test_every_staff_grant_container_is_removed(stack):
    stack.grant_role("first@example.org", "support")
    stack.grant_role("second@example.org", "admin")
    stack.stop()
    grants = [c for c in FakeContainer.made if c.command[:3] == ["identity", "staff", "grant"]]
    assert len(grants) == 2
    assert all(c.removed for c in grants)


def test_a_one_shot_command_that_never_ends_fails_the_start_and_is_removed(stack, monkeypatch):
    FakeContainer.hangs = True
    monkeypatch.setattr(containers, "ONE_SHOT_TIMEOUT", 5)
    with pytest.raises(RuntimeError) as failed:
        stack.grant_role("someone@example.org", "support")
    first_line, logs = str(failed.value).split("\n", 1)
    assert first_line == "identity staff grant someone@example.org support did not finish within 5s:"
    assert "waiting for the migrations' lock" in logs
    assert [c.removed for c in FakeContainer.made] == [True]


class FakeBroker:
    """A broker container whose log, as Docker keeps it, holds every earlier start's lines; once
    started again, it says so only after a few looks at its log."""

    def __init__(self) -> None:
        self.log, self.up, self.looks_until_up = "Kafka Server started\n", True, 0

    def get_wrapped_container(self) -> "FakeBroker":
        return self

    def stop(self, timeout: int = 10) -> None:
        self.up = False

    def start(self) -> None:
        self.looks_until_up = 3

    def reload(self) -> None:
        pass

    status = "running"

    def get_logs(self) -> tuple[bytes, bytes]:
        if not self.up and self.looks_until_up:
            self.looks_until_up -= 1
            if self.looks_until_up == 0:
                self.log, self.up = self.log + "Kafka Server started\n", True
        return self.log.encode(), b""


@pytest.mark.parametrize("restarts", [1, 2])
def test_start_broker_returns_once_the_broker_started_again(stack, restarts):
    broker = stack.containers["kafka"] = FakeBroker()  # type: ignore[assignment]
    for _ in range(restarts):
        stack.stop_broker()
        stack.start_broker()
        assert broker.up
