"""What operators see: delivery status for support staff, and the worker's metrics."""

import re
import urllib.request

from accounts_common.events.topics import CODES
from tests.e2e.mail_helpers import code_issued
from tests.support.http import call
from tests.support.polling import wait_for


def test_delivery_status_shows_status_and_attempts(mailer, infra, unique_email):
    event = mailer.publish(CODES, "CodeIssued", code_issued(unique_email))
    infra.inbox.wait_for_messages(unique_email)
    delivery = mailer.outcome(unique_email, event.id)
    assert (delivery["kind"], delivery["status"], delivery["attempts"]) == ("code", "sent", 1)
    assert delivery["last_error"] is None and delivery["sent_at"] and delivery["message_id"].startswith("<")
    assert mailer.deliveries(unique_email.upper()) == [delivery]


def test_delivery_status_is_for_support_staff_only(mailer, unique_email):
    url = f"{mailer.web_url}/v1/deliveries?email={unique_email}"
    status, problem = call("GET", url)
    assert status == 401 and problem["type"].endswith("missing-token")
    status, problem = call("GET", url, headers={"Authorization": "Bearer not-a-token"})
    assert status == 401 and problem["type"].endswith("invalid-token")
    token = mailer.support["Authorization"].split()[1]
    status, problem = call("GET", url, headers={"Authorization": f"Basic {token}"})
    assert status == 401
    status, problem = call("GET", url, headers=mailer.other_staff("newsletter-editor"))
    assert status == 403 and problem["type"].endswith("role-required")


def test_a_bad_query_is_a_problem_not_an_error(mailer):
    for query in ("", "?email=not-an-address", "?email=a@example.org&unknown=1"):
        status, problem = call("GET", f"{mailer.web_url}/v1/deliveries{query}", headers=mailer.support)
        assert status == 422 and problem["status"] == 422, (query, problem)


def test_the_web_serves_health_metrics_and_openapi(mailer):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert _get(path, mailer) == 200, path


def worker_metrics(mailer) -> str:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(mailer.worker_metrics_url, timeout=5) as response:
        return response.read().decode()


def codes_sent(metrics: str) -> float:
    """The worker's count of code emails sent (0 before its first)."""
    found = re.search(r'^mailer_emails_sent_total\{kind="code"\} (\S+)$', metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_the_worker_exports_delivery_counters_latency_and_lag(mailer, infra, unique_email):
    before = codes_sent(worker_metrics(mailer))
    mailer.publish(CODES, "CodeIssued", code_issued(unique_email))
    infra.inbox.wait_for_messages(unique_email)

    # Counted once marked sent, after the sink has the mail: read at once, the counter may lag it.
    def counted() -> str | None:
        text = worker_metrics(mailer)
        return text if codes_sent(text) > before and f'consumer_lag{{group="{mailer.group}"' in text else None

    metrics = wait_for(counted, timeout=30, what="the code email counted, and the lag gauge")
    for name in (
        'mailer_emails_sent_total{kind="code"}',
        "mailer_emails_retried_total",
        "mailer_emails_failed_total",
        "mailer_smtp_send_seconds_bucket",
        f'consumer_events_total{{group="{mailer.group}",outcome="handled"}}',
    ):
        assert name in metrics, name


def _get(path: str, mailer) -> int:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(f"{mailer.web_url}{path}", timeout=5) as response:
        return response.status
