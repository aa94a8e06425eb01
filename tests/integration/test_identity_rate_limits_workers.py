"""Rate limits hold across gunicorn workers: `identity web --workers 2` as a real process."""

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import Infra, fresh_database
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess, free_port, http_ok, run_once

LIMIT = 8
REQUESTS = 40
RESEND = "/v1/accounts/verification/resend"


def routes_served_per_worker(metrics: Path) -> list[set[str]]:
    """For each worker (one metrics file per process), the routes it answered."""
    served = []
    for path in metrics.glob("histogram_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            if family.name == "http_request_duration_seconds":
                served.append({sample.labels["route"] for sample in family.samples})
    return served


def test_a_per_ip_limit_is_shared_by_both_workers(infra: Infra, tmp_path: Path):
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "IDENTITY_DATABASE_URL": fresh_database(infra, "test_identity_workers"),
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "IDENTITY_RATE_LIMIT_RESEND_PER_IP": f"{LIMIT}/600",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    run_once(["identity", "migrate"], env)
    web = ServiceProcess(
        "identity-web", ["identity", "web", "--port", str(port), "--workers", "2"], env, tmp_path
    )
    web.start()
    try:
        web.wait_http(f"{base}/readyz")
        # Both workers have booted once each has answered something (each has a metrics file).
        wait_for(
            lambda: http_ok(f"{base}/healthz") and len(routes_served_per_worker(metrics)) == 2,
            timeout=30,
            what="both gunicorn workers to answer",
        )

        def resend(_: int) -> tuple[int, bool]:
            status, body = call(
                "POST",
                base + RESEND,
                {"email": f"{uuid.uuid4().hex[:10]}@example.org", "registration_id": str(uuid.uuid4())},
            )
            return status, status != 429 or body["type"].endswith("rate-limited")

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(resend, range(REQUESTS)))
    finally:
        web.stop()
    assert Counter(status for status, _ in answers) == {202: LIMIT, 429: REQUESTS - LIMIT}
    assert all(problem_ok for _, problem_ok in answers)
    assert all(RESEND in routes for routes in routes_served_per_worker(metrics)), web.log_tail()
