"""The Grafana dashboard and the alert rules against a live Prometheus scraping the test stack.

Prometheus (Debian's, as `make run` starts it) scrapes identity web, the relay and the mailer
worker every second, with the configuration deploy/observability/scrape_config.py writes for
`make run`. After a signup has gone through to the inbox, every panel's query must parse, every
metric it names must be in Prometheus, and every query must return data, except the panel whose
series only exist when something fails.
"""

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.prometheus import OBSERVABILITY_RULES, Prometheus, PrometheusError
from tests.support.promql import dashboard_panels, metric_names

PASSWORD = "Correct-Horse-9!"
# No 5xx in a healthy stack: the panel's metric is checked, its (empty) result is not.
PANELS_EMPTY_WHEN_HEALTHY = {"HTTP 5xx by route"}
SIGNUPS = 'http_request_duration_seconds_count{route="/v1/accounts", method="POST"}'
NEVER = "0001-01-01T00:00:00Z"  # a rule's lastEvaluation before its first


def address(url: str) -> str:
    return urlsplit(url).netloc


@pytest.fixture(scope="module")
def prometheus(stack, infra, tmp_path_factory) -> Iterator[Prometheus]:  # type: ignore[no-untyped-def]
    targets = [
        f"identity-web={address(stack.identity_url)}",
        f"identity-relay={address(stack.relay_metrics_url)}",
        f"mailer-worker={address(stack.worker_metrics_url)}",
    ]
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), targets)
    email = f"dashboard-{uuid.uuid4().hex[:12]}@example.org"
    try:
        # Every counter scraped once before the signup: its email is then an increase, whenever it is sent.
        wait_for(lambda: server.query(f"count(up == 1) == {len(targets)}"), timeout=30, what="a first scrape")
        status, _ = call("POST", f"{stack.identity_url}/v1/accounts", {"email": email, "password": PASSWORD})
        assert status == 202
        infra.inbox.wait_for_messages(email)
        # A rate needs two samples: the signups' series is born with the first signup.
        for expr, what in (
            ('sum(increase(mailer_emails_sent_total{kind="code"}[5m])) > 0', "the code email counted"),
            (f"count_over_time({SIGNUPS}[5m]) > 1", "the signup scraped twice"),
        ):
            wait_for(lambda expr=expr: server.query(expr), timeout=60, what=f"Prometheus: {what}")
        yield server
    finally:
        server.stop()


def test_every_process_is_scraped(prometheus):
    up = {sample["metric"]["job"]: sample["value"][1] for sample in prometheus.query("up")}
    assert up == {"identity-web": "1", "identity-relay": "1", "mailer-worker": "1"}


@pytest.mark.parametrize("title", sorted(dashboard_panels()))
def test_the_panel_parses_and_reads_exported_metrics(prometheus, title):
    for expr in dashboard_panels()[title]:
        try:
            result = prometheus.query(expr)
        except PrometheusError as error:
            pytest.fail(f"{title}: {expr!r} does not parse: {error}")
        for name in metric_names(expr):
            assert prometheus.api("series", **{"match[]": name}), f"{title}: no process exports {name}"
        if title not in PANELS_EMPTY_WHEN_HEALTHY:
            assert result, f"{title}: {expr!r} has no data after a signup went through"


def test_every_alert_rule_is_loaded_and_evaluates(prometheus):
    groups = yaml.safe_load(OBSERVABILITY_RULES.read_text())["groups"]
    expected = {rule["alert"] for group in groups for rule in group["rules"]}

    def evaluated():  # type: ignore[no-untyped-def]
        rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
        return rules if all(rule["lastEvaluation"] != NEVER for rule in rules) else None

    rules = wait_for(evaluated, timeout=30, what="every rule evaluated once")
    assert {rule["name"] for rule in rules} == expected
    assert [rule for rule in rules if rule["health"] != "ok"] == []
