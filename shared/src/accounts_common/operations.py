"""The operations endpoints every process serves (/healthz, /readyz, /metrics) and the request
metrics of every app."""

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)


REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)


@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge read when Prometheus scrapes (from the database, say), omitted while `read` fails."""

    description: str
    read: Callable[[], float]


class _ScrapeGauges:
    def __init__(self, gauges: Mapping[str, ScrapeGauge]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, gauge in self.gauges.items():
            try:
                value = gauge.read()
            except Exception:  # noqa: BLE001 - a missing sample beats a failed scrape
                log.warning("metric %s could not be read", name, exc_info=True)
                continue
            yield GaugeMetricFamily(name, gauge.description, value=value)


def operations_blueprint(
    readiness_checks: Mapping[str, Callable[[], bool]], scrape_gauges: Mapping[str, ScrapeGauge] | None = None
) -> Blueprint:
    """/healthz (process alive), /readyz (dependencies reachable) and /metrics (Prometheus)."""
    ops = Blueprint("operations", __name__)

    @ops.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @ops.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results = {name: check() for name, check in readiness_checks.items()}
        ready = all(results.values())
        return jsonify(status="ready" if ready else "not ready", checks=results), 200 if ready else 503

    @ops.get("/metrics")
    def metrics() -> Response:
        scraped = CollectorRegistry()
        scraped.register(_ScrapeGauges(scrape_gauges or {}))
        body = generate_latest(_metrics_registry()) + generate_latest(scraped)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)

    return ops


def _metrics_registry() -> CollectorRegistry:
    """Under gunicorn with several workers, every worker's samples come from the shared folder."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def install_request_metrics(app: Flask) -> None:
    """Time every request by its route pattern (never the raw path: ids would explode the labels)."""

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response
