"""Black box against deploy/compose.yaml brought up by `make compose-smoke`: sign up, read the code
in the SMTP sink, verify, and see the account's events on Kafka.

The stack's addresses come from `deploy/containers/compose.sh env`; `make test` leaves this folder out.
"""

import os

import pytest

from accounts_common.events.topics import ACCOUNT_EVENTS
from accounts_testkit.accounts import verified_account
from accounts_testkit.events import TopicReader
from accounts_testkit.http import call
from accounts_testkit.inbox import Inbox
from accounts_testkit.polling import wait_for

# Every process of deploy/compose.yaml that serves /metrics (the jobs of prometheus.Dockerfile).
SCRAPED = {
    "identity-web", "identity-relay", "identity-audit-log", "mailer-web", "mailer-worker", "catalogue-web",
    "catalogue-worker", "catalogue-relay", "catalogue-transcoder", "newsletter-web", "newsletter-worker",
    "newsletter-relay", "portal-web",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, str]:
    names = (
        "COMPOSE_IDENTITY_URL",
        "COMPOSE_INBOX_URL",
        "COMPOSE_KAFKA",
        "COMPOSE_WEB_URLS",
        "COMPOSE_PROMETHEUS_URL",
    )
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: run this through `make compose-smoke`")
    return {name: os.environ[name] for name in names}


def test_signup_mail_verify_and_events(compose):
    events = TopicReader(compose["COMPOSE_KAFKA"], ACCOUNT_EVENTS)
    try:
        account = verified_account(compose["COMPOSE_IDENTITY_URL"], Inbox(compose["COMPOSE_INBOX_URL"]))

        status, me = call(
            "GET",
            f"{compose['COMPOSE_IDENTITY_URL']}/v1/accounts/me",
            headers={"Authorization": f"Bearer {account.access_token}"},
        )
        assert (status, me["email"]) == (200, account.email)

        def registered_then_verified(_records):  # type: ignore[no-untyped-def]
            types = [event["type"] for event in events.events() if event["subject"] == account.account_id]
            return types == ["UserRegistered", "AccountVerified"]

        events.read_until(registered_then_verified, timeout=60, what="UserRegistered and AccountVerified")
    finally:
        events.close()


def test_every_web_process_of_the_stack_is_ready(compose):
    urls = compose["COMPOSE_WEB_URLS"].split()
    assert len(urls) == 5
    answers = {url: call("GET", f"{url}/readyz")[0] for url in urls}
    assert answers == dict.fromkeys(urls, 200)


def test_prometheus_scrapes_every_process_and_loads_the_rules(compose):
    prometheus = compose["COMPOSE_PROMETHEUS_URL"]

    def all_up():  # type: ignore[no-untyped-def]
        try:
            _, answer = call("GET", f"{prometheus}/api/v1/targets")
        except OSError:
            return False  # still starting
        targets = answer["data"]["activeTargets"]
        return {target["labels"]["job"] for target in targets if target["health"] == "up"} == SCRAPED

    wait_for(all_up, timeout=90, what="Prometheus to scrape every process", interval=1)
    _, rules = call("GET", f"{prometheus}/api/v1/rules")
    assert {group["name"] for group in rules["data"]["groups"]} >= {"outbox", "consumers", "mailer", "http"}
