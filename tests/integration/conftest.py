"""Identity in-process against the real PostgreSQL (and, for the outbox tests, the real broker)."""

import dataclasses
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jwt
import psycopg
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg_pool import ConnectionPool

from accounts_common import account_projection
from accounts_common.codecrypt import cipher_from_env
from accounts_common.events import Topic, dead_letter_topic, parse_event, validate_data
from accounts_common.events.topics import ACCOUNT_EVENTS, CODES, NEWSLETTER_DELIVERIES
from accounts_common.roles import Role
from identity.adapters import account_store
from identity.adapters.tokens import pem_of
from identity.bootstrap import Identity, bootstrap
from identity.entrypoints.app import create_app
from identity.migrations import IDENTITY_MIGRATIONS
from identity.service_layer import staff
from identity.settings import RateLimits, Settings
from mailer.settings import Settings as MailerSettings
from newsletter.adapters import repository
from newsletter.adapters.group_progress import GroupProgress
from newsletter.bootstrap import Newsletter
from newsletter.bootstrap import bootstrap as newsletter_bootstrap
from newsletter.entrypoints.app import create_app as create_newsletter_app
from newsletter.migrations import NEWSLETTER_MIGRATIONS
from newsletter.service_layer.fanout import FanOutWorker
from newsletter.settings import Settings as NewsletterSettings
from tests.conftest import RUN_ID, database_fixtures, fresh_topics
from tests.support.hashing import CHEAP_HASHING
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of
from tests.support.outbox import outbox_records
from tests.support.served import ServedIdentity
from tests.support.sink import PrivateSink
from tests.support.workers import running

T = TypeVar("T")

identity_db, identity_pool = database_fixtures("identity", IDENTITY_MIGRATIONS)


class Clock:
    """identity's clock, moved by the test: each TOTP step is 30 s."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def next_step(self) -> datetime:
        self.now += timedelta(seconds=30)
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_identity(identity_db, identity_pool, infra):  # type: ignore[no-untyped-def]
    """An Identity wired to the test database, with any settings overridden.

    The tests share one database and one client address, so rate limits are generous unless a test
    sets its own (`rate_limits=...`); passwords are hashed at a test cost unless it sets its own.
    """

    def make(**overrides) -> Identity:  # type: ignore[no-untyped-def]
        overrides = {"rate_limits": RateLimits.generous(), **CHEAP_HASHING, **overrides}
        settings = dataclasses.replace(
            Settings.from_env(), database_url=identity_db, kafka_bootstrap_servers=infra.kafka, **overrides
        )
        return bootstrap(settings, pool=identity_pool)

    return make


@pytest.fixture
def identity(make_identity) -> Identity:  # type: ignore[no-untyped-def]
    return make_identity()


def identity_on_test_clock(make_identity, clock) -> Identity:  # type: ignore[no-untyped-def]
    """An Identity whose time is the test's `clock`; a module whose tests move time on makes it its
    `identity`: `identity = pytest.fixture(identity_on_test_clock, name="identity")`."""
    app = make_identity()
    app.clock = clock
    return app


@pytest.fixture
def client(identity: Identity):  # type: ignore[no-untyped-def]
    return create_app(identity).test_client()


def mailed_codes(pool: ConnectionPool, email: str, purpose: str = "verification") -> list[str]:
    """The plaintexts of the codes emailed to `email`, newest first, read back from identity's outbox."""
    events = outbox_records(pool, topic=CODES, email=email, newest_first=True)
    return [
        cipher_from_env().decrypt(event["data"]["code_encrypted"])
        for event in events
        if event["type"] == "CodeIssued" and event["data"]["purpose"] == purpose
    ]


def latest_code(pool: ConnectionPool, email: str, purpose: str = "verification") -> str:
    """The plaintext of the newest code emailed to `email`."""
    codes = mailed_codes(pool, email, purpose)
    assert codes, f"no {purpose} code was issued to {email}"
    return codes[0]


PASSWORD = "Correct-Horse-9!"
NEW_PASSWORD = "Brand-New-Secret-42?"


def register(client, email: str, password: str = PASSWORD, **extra: str) -> str:  # type: ignore[no-untyped-def]
    """Register through the API; the registration id it answered."""
    response = client.post("/v1/accounts", json={"email": email, "password": password, **extra})
    assert response.status_code == 202, response.json
    return response.json["registration_id"]


def verify(client, email: str, registration_id: str, code: str):  # type: ignore[no-untyped-def]
    """Enter a code for a registration; the response."""
    return client.post(
        "/v1/accounts/verification", json={"email": email, "registration_id": registration_id, "code": code}
    )


def sign_up(client, pool: ConnectionPool, email: str, password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    """Register and verify an account through the API; its first access token."""
    registration_id = register(client, email, password)
    response = verify(client, email, registration_id, latest_code(pool, email))
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


def account_of(token: str) -> str:
    """The id of the account an access token is for (read without checking the signature)."""
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def then_deleted(pool: ConnectionPool, check: Callable[..., T]) -> Callable[..., T]:
    """`check` (a request's look at its caller: sessions.authenticate, accounts.confirm_owner), then the
    caller's account deleted and committed at once: a deletion racing the request, between its checks
    and its writes. `check` answers a Principal (with its account) or the Account."""

    def checked_then_deleted(*args: Any) -> T:
        checked = check(*args)
        with pool.connection() as conn, conn.transaction():
            account_store.delete_account(conn, getattr(checked, "account", checked).id)
        return checked

    return checked_then_deleted


def account_events(pool: ConnectionPool, account_id: str) -> list[dict]:  # type: ignore[type-arg]
    """The events about one account in identity's outbox, oldest first (not its state records)."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT record_value FROM outbox WHERE record_key = %s AND follows_event_id IS NULL
               ORDER BY id""",
            (account_id,),
        ).fetchall()
    return [json.loads(value) for (value,) in rows]


def reset_password(client, pool, email) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/password-resets", json={"email": email})
    code = latest_code(pool, email, "password_reset")
    reset_token = client.post("/v1/password-resets/verification", json={"email": email, "code": code}).json[
        "reset_token"
    ]
    done = client.post(
        "/v1/password-resets/completion", json={"reset_token": reset_token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 200


def feed(
    service_pool: ConnectionPool,
    identity_pool: ConnectionPool,
    account_id: str,
    event_type: str,
    handlers=account_projection.REVOCATION_HANDLERS,  # type: ignore[no-untyped-def]
) -> None:
    """Hand identity's event from its outbox to the projection's handler, as a consumer would."""
    [raw] = [e for e in account_events(identity_pool, account_id) if e["type"] == event_type]
    event = parse_event(json.dumps(raw))
    with service_pool.connection() as conn, conn.transaction():
        handlers[event_type](conn, event, validate_data(event.type, event.data))


def staff_token(identity: Identity, pool: ConnectionPool, *roles: Role) -> str:
    """The access token of a new staff account with `roles`, made as a person is: sign up, grants from
    the command line, TOTP enrolment, and a login with the second factor (here a recovery code)."""
    client = create_app(identity).test_client()
    email = f"staff-{secrets.token_hex(6)}@example.org"
    sign_up(client, pool, email)
    for role in roles:
        staff.grant(identity, email, role)
    first = client.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json["access_token"]
    secret = client.post("/v1/accounts/me/totp", json={"password": PASSWORD}, headers=bearer(first)).json[
        "secret"
    ]
    confirmed = client.post(
        "/v1/accounts/me/totp/verification", json={"code": pyotp.TOTP(secret).now()}, headers=bearer(first)
    )
    recovery_code = confirmed.json["recovery_codes"][0]
    login = client.post("/v1/sessions", json={"email": email, "password": PASSWORD, "totp": recovery_code})
    assert login.status_code == 200, login.json
    return login.json["access_token"]


# The newsletter in-process, checking tokens of an identity served on a real port (its JWKS).
NEWSLETTER_TOPIC_PREFIX = f"test-{RUN_ID}."  # the newsletter's topics, private to this run
IDENTITY_SIGNING_KEY = Ed25519PrivateKey.generate()


newsletter_db, newsletter_pool = database_fixtures("newsletter", NEWSLETTER_MIGRATIONS)


@pytest.fixture
def served_identity(make_identity) -> Iterator[ServedIdentity]:  # type: ignore[no-untyped-def]
    """identity over HTTP, signing with IDENTITY_SIGNING_KEY (so tests can sign other tokens too)."""
    server = ServedIdentity(create_app(make_identity(signing_keys_pem=pem_of(IDENTITY_SIGNING_KEY))))
    yield server
    server.close()


@pytest.fixture
def newsletter(newsletter_db, newsletter_pool, served_identity, infra) -> Newsletter:  # type: ignore[no-untyped-def]
    settings = NewsletterSettings(
        database_url=newsletter_db,
        kafka_bootstrap_servers=infra.kafka,
        unsubscribe_key=secrets.token_bytes(32),
        jwks_url=served_identity.jwks_url,
        topic_prefix=NEWSLETTER_TOPIC_PREFIX,
    )
    return newsletter_bootstrap(settings, pool=newsletter_pool)


@pytest.fixture
def newsletter_client(newsletter):  # type: ignore[no-untyped-def]
    return create_newsletter_app(newsletter).test_client()


@pytest.fixture(scope="module")
def deliveries_topic(infra) -> str:  # type: ignore[no-untyped-def]
    topic = NEWSLETTER_TOPIC_PREFIX + NEWSLETTER_DELIVERIES
    fresh_topics(infra, Topic(topic, partitions=3))
    return topic


@pytest.fixture(scope="module")
def account_events_topic(infra) -> str:  # type: ignore[no-untyped-def]
    """An account-events topic nobody writes to: a scheduled issue waits for no consumer."""
    topic = f"{NEWSLETTER_TOPIC_PREFIX}{ACCOUNT_EVENTS}.quiet-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=2))
    return topic


def fan_out_worker(
    newsletter: Newsletter,
    kafka: str,
    topic: str,
    account_events_topic: str,
    group: str | None = None,
    **options: Any,
) -> FanOutWorker:
    """A fan-out worker of the tests: the test portal in its links, batches of 40 unless `options` say;
    a due scheduled issue waits for `group` (one of its own unless given) to handle `account_events_topic`."""
    unsubscribe_key = newsletter.settings.unsubscribe_key
    options = {"batch_size": 40, **options}
    group = group or f"newsletter-{uuid.uuid4().hex[:8]}"
    return FanOutWorker(
        newsletter,
        kafka,
        portal_url="https://portal.example.test",
        unsubscribe_key=unsubscribe_key,
        account_events=GroupProgress(kafka, group=group, topic=account_events_topic),
        topic=topic,
        **options,
    )


@pytest.fixture
def run_in_thread() -> Iterator[Callable[[Callable[[threading.Event], None]], object]]:
    """Run worker loops (their `run(stop)`) each in a thread of its own until the test ends."""
    with ExitStack() as stack:
        yield lambda loop: stack.enter_context(running(loop, join_timeout_s=30))


@pytest.fixture
def start_fan_out(newsletter, deliveries_topic, account_events_topic, infra, run_in_thread):  # type: ignore[no-untyped-def]
    """Start a fan-out worker in a thread (stopped after the test)."""

    def start() -> None:
        run_in_thread(
            fan_out_worker(
                newsletter, infra.kafka, deliveries_topic, account_events_topic, poll_interval=0.2
            ).run
        )

    return start


@pytest.fixture
def fan_out(newsletter, infra, deliveries_topic, account_events_topic):  # type: ignore[no-untyped-def]
    """Fan a started issue out in this thread, as the worker does once it leads (`worker`: its batch
    size, a producer of the test's); the delivery requests it made, as read off Kafka."""

    def fan_out_now(issue_id: str, **worker: Any) -> list[dict[str, Any]]:
        fan_out = fan_out_worker(newsletter, infra.kafka, deliveries_topic, account_events_topic, **worker)
        reader = TopicReader(infra.kafka, deliveries_topic)
        try:
            with psycopg.connect(newsletter.settings.database_url, autocommit=True) as conn:
                issue = repository.find_issue(conn, uuid.UUID(issue_id))
                assert issue is not None and issue.status == "sending"
                fan_out.fan_out(conn, issue, threading.Event())
                done = repository.find_issue(conn, issue.id)
                assert done is not None and done.status == "sent"
            fan_out._drop_producer()
            reader.read_until(
                lambda records: len(deliveries_of(records, issue_id)) >= done.requested,
                timeout=30,
                what="the issue's delivery requests",
            )
        finally:
            reader.close()
        return deliveries_of(reader.records, issue_id)

    return fan_out_now


@pytest.fixture
def newsletter_editor(served_identity, identity_pool) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The Authorization header of a newsletter editor of the served identity."""
    identity = served_identity.app.extensions["identity"]
    return bearer(staff_token(identity, identity_pool, Role.NEWSLETTER_EDITOR))


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[PrivateSink]:
    """An SMTP sink of the test's own."""
    private = PrivateSink(tmp_path)
    private.start()
    yield private
    private.stop()


def private_mailer_settings(infra, database_url: str, jwks_url: str, name: str):  # type: ignore[no-untyped-def]
    """The mailer's settings for an in-process web app, with a consumer group (and dead-letter topic)
    of its own: listing or replaying its dead letters never touches another run's."""
    group = f"mailer-{name}-{RUN_ID}"
    fresh_topics(infra, Topic(dead_letter_topic(group), partitions=1))
    return dataclasses.replace(
        MailerSettings.from_env(),
        database_url=database_url,
        identity_jwks_url=jwks_url,
        kafka_bootstrap_servers=infra.kafka,
        consumer_group=group,
    )
