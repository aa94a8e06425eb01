"""Reading PromQL of the dashboard and the alert rules: which panels, which metric names."""

import json
import re
from pathlib import Path

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels, durations or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    tokens = re.finditer(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()", expr)
    return {token.group() for token in tokens if token.group() not in PROMQL_WORDS}


def dashboard_panels() -> dict[str, list[str]]:
    """Each panel's title and its queries."""
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return {panel["title"]: [target["expr"] for target in panel["targets"]] for panel in dashboard["panels"]}


def dashboard_exprs() -> list[str]:
    return [expr for exprs in dashboard_panels().values() for expr in exprs]
