"""The dashboard's figures, evaluated by promtool on series as the processes export them."""

from pathlib import Path

import yaml

from tests.support.promql import dashboard_panels
from tests.unit.test_alert_rules import promtool


def test_the_lag_panel_counts_a_partition_two_workers_report_once(tmp_path: Path):
    """During a rebalance (or while a worker that lost a partition is busy) two workers export the
    same partition's lag: the panel the ConsumerLagGrowing runbook points at must not double it."""
    [expr] = dashboard_panels()["Consumer lag per group"]
    series = 'consumer_lag{job="mailer-worker", instance="%s", group="mailer", topic="t", partition="%d"}'
    case = {
        "interval": "1m",
        "input_series": [
            {"series": series % ("127.0.0.1:9104", 0), "values": "600x5"},
            {"series": series % ("127.0.0.1:9105", 0), "values": "600x5"},
            {"series": series % ("127.0.0.1:9105", 1), "values": "100x5"},
        ],
        "promql_expr_test": [
            {"expr": expr, "eval_time": "5m", "exp_samples": [{"labels": '{group="mailer"}', "value": 700}]}
        ],
    }
    tests = tmp_path / "dashboard.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": [case]}))

    result = promtool("test", "rules", tests.name, cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
