"""The Grafana dashboard and the alert rules name only metrics that a service exports."""

import importlib
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from accounts_common.outbox import oldest_pending_age_gauge
from tests.support.promql import dashboard_exprs, metric_names

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "deploy" / "observability"
SOURCES = [REPO / "shared" / "src", *sorted((REPO / "services").glob("*/src"))]
SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}


# Series Prometheus writes itself for every target it scrapes.
SCRAPE_SERIES = {"up"}
# Debian's prometheus-postgres-exporter's, from pg_stat_archiver (`make run` scrapes it as job postgres).
POSTGRES_EXPORTER_SERIES = {"pg_stat_archiver_failed_count", "pg_stat_archiver_archived_count"}


def exported_metrics() -> set[str]:
    """Every sample name the services' metrics produce (each module using prometheus_client imported)."""
    for root in SOURCES:
        for path in root.rglob("*.py"):
            if "prometheus_client" in path.read_text():
                importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
    names = set(oldest_pending_age_gauge(None))  # type: ignore[arg-type] # read on scrape only
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES.get(family.type, ()))
    return names


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_the_expression_parser_finds_metrics_and_nothing_else():
    expr = 'histogram_quantile(0.95, sum by (le) (rate(http_x_bucket{route="/v1/a", method="POST"}[5m]))) > 1'
    assert metric_names(expr) == {"http_x_bucket"}
    assert metric_names("sum(rate(a_total[5m])) / sum(rate(b_total[5m])) > 0.01") == {"a_total", "b_total"}


def test_the_dashboard_names_only_exported_metrics():
    named = set().union(*map(metric_names, dashboard_exprs()))
    assert named and named <= exported_metrics(), named - exported_metrics()


def test_the_alerts_name_only_exported_metrics():
    named = set().union(*map(metric_names, alert_exprs()))
    exported = exported_metrics() | SCRAPE_SERIES | POSTGRES_EXPORTER_SERIES
    assert named and named <= exported, named - exported


def test_the_dashboard_and_alerts_cover_what_operators_watch():
    named = set().union(*map(metric_names, dashboard_exprs() + alert_exprs()))
    assert {
        "outbox_oldest_pending_age_seconds",
        "consumer_lag",
        "consumer_events_total",
        "mailer_emails_retried_total",
        "mailer_emails_failed_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
        "pg_stat_archiver_failed_count",  # a backup that stopped taking the WAL
    } <= named
