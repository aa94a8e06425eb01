"""pytest fixtures for a running accounts stack, started in containers once per test session.

    def test_my_service_sees_new_accounts(accounts_verified_account, accounts_events):
        account = accounts_verified_account()
        ...

The images come from ACCOUNTS_<NAME>_IMAGE (see `containers.Images`); the engine from DOCKER_HOST,
as for any testcontainers use. No fixture starts anything until a test asks for one.
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_testkit.containers import ContainerStack
from accounts_testkit.events import TopicReader
from accounts_testkit.http import call
from accounts_testkit.inbox import Inbox, code_in

PASSWORD = "Correct-Horse-9!"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    access_token: str


@pytest.fixture(scope="session")
def accounts_stack() -> Iterator[ContainerStack]:
    """Kafka, PostgreSQL, the SMTP sink, identity and the mailer, removed when the session ends."""
    with ContainerStack() as stack:
        stack.start_infrastructure().start_services()
        yield stack


@pytest.fixture(scope="session")
def accounts_identity_url(accounts_stack: ContainerStack) -> str:
    return accounts_stack.identity_url


@pytest.fixture(scope="session")
def accounts_kafka(accounts_stack: ContainerStack) -> str:
    """Bootstrap servers of the stack's Kafka, from the host."""
    return accounts_stack.kafka_bootstrap


@pytest.fixture(scope="session")
def accounts_inbox(accounts_stack: ContainerStack) -> Inbox:
    """Every email the mailer sent, read through the SMTP sink's HTTP API."""
    return Inbox(accounts_stack.inbox_url)


@pytest.fixture
def accounts_verified_account(accounts_identity_url: str, accounts_inbox: Inbox) -> Callable[..., Account]:
    """Makes an account the way a person does: sign up, read the emailed code, verify."""

    def make(email: str | None = None, password: str = PASSWORD) -> Account:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.org"
        status, registration = call("POST", f"{accounts_identity_url}/v1/accounts", {"email": email, "password": password})
        assert status == 202, f"signing up {email}: {status} {registration}"
        code = code_in(accounts_inbox.wait_for_messages(email)[0])
        proof = {"email": email, "code": code}
        if registration and "registration_id" in registration:
            proof["registration_id"] = registration["registration_id"]
        status, verified = call("POST", f"{accounts_identity_url}/v1/accounts/verification", proof)
        assert status == 200, f"verifying {email}: {status} {verified}"
        return Account(email=email, password=password, access_token=verified["access_token"])

    return make


@pytest.fixture
def accounts_events(accounts_kafka: str) -> Iterator[TopicReader]:
    """Reads identity's account events published from now on (UserRegistered, AccountVerified, …)."""
    reader = TopicReader(accounts_kafka, ACCOUNT_EVENTS)
    yield reader
    reader.close()
