"""pytest fixtures for a running accounts stack, started in containers once per test session.

    def test_my_service_sees_new_accounts(accounts_verified_account, accounts_events):
        account = accounts_verified_account()
        ...

    def test_support_reads_deliveries(accounts_staff):
        token = accounts_staff("support")  # a staff token: the role counts (TOTP was used)
        ...

The images come from ACCOUNTS_<NAME>_IMAGE (see `containers.Images`); the engine from DOCKER_HOST,
as for any testcontainers use. No fixture starts anything until a test asks for one.
"""

import functools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_testkit.accounts import Account, staff_access_token, verified_account
from accounts_testkit.containers import ContainerStack, Images, engine_problem, missing_images
from accounts_testkit.events import TopicReader
from accounts_testkit.inbox import Inbox


@pytest.fixture(scope="session")
def accounts_stack() -> Iterator[ContainerStack]:
    """Kafka, PostgreSQL, the SMTP sink, identity and the mailer, removed when the session ends."""
    if problem := engine_problem():
        pytest.fail(
            f"the accounts stack needs a Docker engine (or Podman's Docker API) at DOCKER_HOST: {problem}"
        )
    images = Images.from_env()
    if missing := missing_images(images):  # before any container starts, not minutes into the start
        pytest.fail(
            "the accounts stack needs images the engine neither holds nor can pull: "
            f"{'; '.join(missing)}. Build the accounts images in the accounts repository (docs/testing.md, "
            "'The stack in other projects' tests'), or name others in ACCOUNTS_<NAME>_IMAGE."
        )
    with terminated_as_interrupted(), ContainerStack(images) as stack:
        stack.start_infrastructure().start_services()
        yield stack


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a timeout's kill) ends the run as Ctrl-C does, through the
    teardown that removes the stack. Python's default ends the process at once and leaves the
    containers running: under Podman no Ryuk reaps them. A handler the run set itself is kept."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum} (SIGTERM): removing the accounts stack")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="session")
def accounts_identity_url(accounts_stack: ContainerStack) -> str:
    return accounts_stack.identity_url


@pytest.fixture(scope="session")
def accounts_kafka(accounts_stack: ContainerStack) -> str:
    """Bootstrap servers of the stack's Kafka, from the host."""
    return accounts_stack.kafka_bootstrap


@pytest.fixture(scope="session")
def accounts_inbox(accounts_stack: ContainerStack) -> Inbox:
    """Every email the mailer sent, read through Mailpit's API (faults switched in front of it)."""
    return Inbox(accounts_stack.inbox_url, accounts_stack.faults_url)


@pytest.fixture
def accounts_verified_account(accounts_identity_url: str, accounts_inbox: Inbox) -> Callable[..., Account]:
    """Makes verified accounts: `accounts_verified_account(email=None, password=PASSWORD)`."""
    return functools.partial(verified_account, accounts_identity_url, accounts_inbox)


@pytest.fixture
def accounts_events(accounts_kafka: str) -> Iterator[TopicReader]:
    """Reads identity's account events published from now on (UserRegistered, AccountVerified, …)."""
    reader = TopicReader(accounts_kafka, ACCOUNT_EVENTS)
    yield reader
    reader.close()


@pytest.fixture
def accounts_staff(
    accounts_stack: ContainerStack, accounts_identity_url: str, accounts_inbox: Inbox
) -> Callable[[str], str]:
    """Makes staff: `accounts_staff("support")` is the access token of a new verified account holding
    that role (admin, catalogue-editor, newsletter-editor, support), logged in with its second factor."""

    def make(role: str) -> str:
        account = verified_account(accounts_identity_url, accounts_inbox)
        accounts_stack.grant_role(account.email, role)
        return staff_access_token(accounts_identity_url, account.email, account.password)

    return make
