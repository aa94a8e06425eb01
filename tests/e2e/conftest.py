"""The stack as running processes.

`stack` (tests/conftest.py, shared with the browser tests): identity and a mailer worker, on the
stack's copies of the topics (`Stack.topic_prefix`); `newsletter` joins it on them.
`mailer`: a mailer of its own (worker and web) reading private copies of its topics, so tests
can publish events straight to them, switch SMTP faults and kill the worker without touching
the stack's topics, the shared ones or other engineers' consumers.
"""

import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accounts_common.events import CloudEvent, Topic, dead_letter_topic, new_event
from accounts_common.events.topics import (
    ACCOUNT_EVENTS,
    CODES,
    DELIVERY_RESULTS,
    NEWSLETTER_DELIVERIES,
    OPERATOR_ACTIONS,
    SUBSCRIPTION_EVENTS,
    VIDEO_EVENTS,
)
from identity.migrations import IDENTITY_MIGRATIONS
from mailer.migrations import MAILER_MIGRATIONS
from newsletter.migrations import NEWSLETTER_MIGRATIONS
from tests.conftest import RUN_ID, Infra, Stack, fresh_topics, migrated_database, stack_topics
from tests.support.http import call
from tests.support.inbox import Inbox, code_in
from tests.support.kafka import publish_events
from tests.support.newsletter import locale_of
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, stop_all
from tests.support.staff import AdminGrants, PrivateIdentity, staff_token

PORTAL_URL = "https://portal.example.test"
EVENT_SOURCES = {CODES: "/identity", ACCOUNT_EVENTS: "/identity", NEWSLETTER_DELIVERIES: "/newsletter"}


E2E_PASSWORD = "Correct-Horse-9!"


def stack_staff_header(stack: Stack, infra: Infra, admin: AdminGrants, role: str) -> dict[str, str]:
    """The Authorization header of a new staff member of the stack's identity, granted `role` by `admin`
    (`staff_admin`)."""
    verify = lambda email, _password: verified_account(stack.identity_url, infra.inbox, email)  # noqa: E731
    return {"Authorization": f"Bearer {staff_token(admin, role, verify)}"}


def verified_account(identity_url: str, inbox: Inbox, email: str, locale: str | None = None) -> str:
    """Register through identity (in `locale`, when given), read the code from the sink and verify;
    the access token."""
    registration = {"email": email, "password": E2E_PASSWORD} | ({"locale": locale} if locale else {})
    status, body = call("POST", f"{identity_url}/v1/accounts", registration)
    assert status == 202, body
    code = code_in(inbox.wait_for_messages(email)[-1])
    verification = {"email": email, "registration_id": body["registration_id"], "code": code}
    status, body = call("POST", f"{identity_url}/v1/accounts/verification", verification)
    assert status == 200, body
    return str(body["access_token"])


def start_private_identity(infra: Infra, logs: Path) -> PrivateIdentity:
    """identity's web process alone, on a database of its own (see PrivateIdentity)."""
    # Several fixtures start one in a run (the mailer's, the fan-out crash test's): a database each.
    database = migrated_database(infra, f"e2e_identity_private_{uuid.uuid4().hex[:6]}", IDENTITY_MIGRATIONS)
    return PrivateIdentity.start(infra.kafka, database, logs)


@dataclass
class Mailer:
    """A running mailer (worker + web) on private topics, and ways to talk to it."""

    kafka: str
    group: str
    topic_prefix: str
    web_url: str
    worker_metrics_url: str
    database_url: str
    worker: ServiceProcess
    web: ServiceProcess
    env: dict[str, str]
    identity: PrivateIdentity  # whose tokens the mailer's web checks
    support: dict[str, str]  # the Authorization header of a support person of that identity

    def other_staff(self, role: str) -> dict[str, str]:
        """The Authorization header of a new staff member with another role."""
        return self.identity.staff_header(role)

    def topic(self, name: str) -> str:
        """The private copy of a system topic."""
        return self.topic_prefix + name

    def publish(self, topic: str, event_type: str, data: dict[str, Any], *, times: int = 1) -> CloudEvent:
        """Publish a new event (structured CloudEvent, keyed by its subject) `times` times."""
        subject = str(data.get("account_id") or uuid.uuid4())
        event = new_event(event_type, source=EVENT_SOURCES[topic], subject=subject, data=data)
        self.publish_events(topic, [event] * times)
        return event

    def publish_events(self, topic: str, events: list[CloudEvent]) -> None:
        """Publish these events to the private copy of `topic`."""
        publish_events(self.kafka, self.topic(topic), events)

    def deliveries(self, email: str) -> list[dict[str, Any]]:
        """GET /v1/deliveries?email= as support staff."""
        status, body = call(
            "GET",
            f"{self.web_url}/v1/deliveries?{urllib.parse.urlencode({'email': email})}",
            headers=self.support,
        )
        assert status == 200, body
        return body["items"]

    def outcome(self, email: str, event_id: str) -> dict[str, Any]:
        """The delivery of `event_id` once the worker has recorded how it ended: the mail can reach the
        inbox a moment before the worker records the handover."""

        def ended() -> list[dict[str, Any]]:
            found = [d for d in self.deliveries(email) if d["event_id"] == event_id]
            return [d for d in found if d["status"] != "sending"]

        [delivery] = wait_for(ended, timeout=30, what=f"the outcome of {event_id}")
        return delivery

    def restart_worker(self) -> None:
        """Start the worker again after it was stopped or killed."""
        self.worker.start()


@pytest.fixture(scope="session")
def mailer(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailer]:
    logs = tmp_path_factory.mktemp("mailer-logs")
    prefix = f"e2e-{RUN_ID}."
    group = f"mailer-e2e-private-{RUN_ID}"
    mailed = (CODES, ACCOUNT_EVENTS, NEWSLETTER_DELIVERIES, SUBSCRIPTION_EVENTS, DELIVERY_RESULTS)
    # Where its relay sends its support staff's actions: were it missing, the relay would wait for its
    # metadata, and every stop of the worker would wait the 5 s grace for it (SHUTDOWN_GRACE_S).
    audited = (OPERATOR_ACTIONS,)
    topics = stack_topics(prefix, mailed + audited)
    fresh_topics(infra, *topics, Topic(dead_letter_topic(group), partitions=1))
    identity = start_private_identity(infra, logs)
    web_port, metrics_port = free_port(), free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "MAILER_DATABASE_URL": migrated_database(infra, "e2e_mailer_private", MAILER_MIGRATIONS),
        "MAILER_CONSUMER_GROUP": group,
        "MAILER_TOPIC_PREFIX": prefix,
        "MAILER_RETRY_MAX_BACKOFF_S": "2",
        "MAILER_WORKER_METRICS_PORT": str(metrics_port),
        "IDENTITY_JWKS_URL": f"{identity.url}/.well-known/jwks.json",
        "PORTAL_URL": PORTAL_URL,
        "SMTP_HOST": infra.smtp_host,
        "SMTP_PORT": str(infra.smtp_port),
    }
    web_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("mailer-prometheus"))}
    running = Mailer(
        kafka=infra.kafka,
        group=group,
        topic_prefix=prefix,
        web_url=f"http://127.0.0.1:{web_port}",
        worker_metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
        database_url=env["MAILER_DATABASE_URL"],
        worker=ServiceProcess("mailer-worker-private", ["mailer", "worker"], env, logs),
        web=ServiceProcess("mailer-web", ["mailer", "web", "--port", str(web_port)], web_env, logs),
        env=env,
        identity=identity,
        support=identity.staff_header("support"),
    )
    running.worker.start()
    running.web.start()
    try:
        running.web.wait_http(f"{running.web_url}/readyz")
        running.worker.wait_http(running.worker_metrics_url)
        yield running
    finally:
        stop_all((running.web, running.worker, identity.process))


@dataclass
class Newsletter:
    """A running newsletter (web, worker, relay) and the way to reach it."""

    url: str
    database_url: str
    group: str
    processes: dict[str, ServiceProcess]
    editor: dict[str, str]  # the Authorization header of a newsletter editor
    portal_url: str = ""

    def editor_call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(method, self.url + path, body, self.editor)

    def subscribe(self, token: str) -> None:
        """Subscribe the account of an access token."""
        status, body = call(
            "POST", f"{self.url}/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}
        )
        assert (status, body["subscribed"]) == (201, True), body

    def wait_for_locale(self, account_id: str, locale: str) -> None:
        """Wait until the newsletter holds the account's language (from AccountVerified)."""
        known = lambda: locale_of(self.database_url, account_id) == locale  # noqa: E731
        wait_for(known, timeout=30, what=f"account {account_id}'s language ({locale}) from AccountVerified")

    def stop(self) -> None:
        """Stop every process, side by side."""
        stop_all(self.processes.values())


def start_newsletter(
    infra: Infra,
    logs: Path,
    identity_url: str,
    editor: dict[str, str],
    *,
    name: str,
    topic_prefix: str,
    **env: str,
) -> Newsletter:
    """Migrate a fresh database, start the newsletter's processes on the topics behind `topic_prefix`
    (the stack's, or private copies) and wait for its web process. Its group is new and reads them from
    the beginning."""
    port = free_port()
    group = f"newsletter-{name}-{RUN_ID}"
    fresh_topics(infra, Topic(dead_letter_topic(group), partitions=1))
    env = {
        "ACCOUNTS_ENV": "development",
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "NEWSLETTER_DATABASE_URL": migrated_database(infra, f"e2e_newsletter_{name}", NEWSLETTER_MIGRATIONS),
        "NEWSLETTER_CONSUMER_GROUP": group,
        "NEWSLETTER_TOPIC_PREFIX": topic_prefix,
        "NEWSLETTER_WORKER_METRICS_PORT": "0",
        "NEWSLETTER_RELAY_METRICS_PORT": "0",
        "IDENTITY_JWKS_URL": f"{identity_url}/.well-known/jwks.json",
        **env,
    }
    processes = {
        f"newsletter-{process}-{name}": ServiceProcess(f"newsletter-{process}-{name}", argv, env, logs)
        for process, argv in (
            ("web", ["newsletter", "web", "--port", str(port), "--workers", "1"]),
            ("worker", ["newsletter", "worker"]),
            ("relay", ["newsletter", "relay"]),
        )
    }
    running = Newsletter(f"http://127.0.0.1:{port}", env["NEWSLETTER_DATABASE_URL"], group, processes, editor)
    for process in processes.values():
        process.start()
    running.processes[f"newsletter-web-{name}"].wait_http(f"{running.url}/readyz")
    return running


@contextmanager
def private_newsletter(
    infra: Infra, logs: Path, *, name: str, topic_prefix: str, **env: str
) -> Iterator[Newsletter]:
    """A newsletter on private copies of its topics (`topic_prefix`), its editor a staff member of an
    identity of its own; afterwards both stopped."""
    # Every topic it reads and writes, on private copies (a caller's own, made first, stay as they
    # are): a worker missing one of its topics would wait METADATA_WAIT_S, 10 s, before consuming.
    read = (ACCOUNT_EVENTS, DELIVERY_RESULTS, VIDEO_EVENTS)
    written = (OPERATOR_ACTIONS, SUBSCRIPTION_EVENTS, NEWSLETTER_DELIVERIES)
    fresh_topics(infra, *(Topic(topic_prefix + name, partitions=1) for name in read + written))
    identity = start_private_identity(infra, logs)
    editor = identity.staff_header("newsletter-editor")
    running = start_newsletter(infra, logs, identity.url, editor, name=name, topic_prefix=topic_prefix, **env)
    try:
        yield running
    finally:
        running.stop()
        identity.process.stop()


@pytest.fixture(scope="session")
def newsletter(
    stack: Stack, infra: Infra, staff_admin: AdminGrants, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Newsletter]:
    """The newsletter on the stack's topics, beside `stack` (whose mailer sends its issues), with the
    portal whose page its unsubscribe links open."""
    logs, portal_port = tmp_path_factory.mktemp("newsletter-logs"), free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    editor = stack_staff_header(stack, infra, staff_admin, "newsletter-editor")
    running = start_newsletter(
        infra,
        logs,
        stack.identity_url,
        editor,
        name="stack",
        topic_prefix=stack.topic_prefix,
        PORTAL_URL=portal_url,
    )
    portal_env = {
        "ACCOUNTS_ENV": "development",
        "PORTAL_IDENTITY_URL": stack.identity_url,
        "PORTAL_NEWSLETTER_URL": running.url,
        "PORTAL_SECURE_COOKIES": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("portal-prometheus")),
    }
    portal = ServiceProcess("portal-web", ["portal", "web", "--port", str(portal_port)], portal_env, logs)
    running.processes["portal-web"] = portal.start()
    running.portal_url = portal_url
    try:
        portal.wait_http(f"{portal_url}/healthz")
        yield running
    finally:
        running.stop()
