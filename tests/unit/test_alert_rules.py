"""The alert rules parse, and each alert fires and stays quiet in its `promtool test rules` cases."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "deploy" / "observability"
RULES = OBSERVABILITY / "alerts.yaml"
RULE_TESTS = sorted((OBSERVABILITY / "tests").glob("*.yaml"))


def promtool(*args: str, cwd: Path = OBSERVABILITY) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make install` installs Debian's prometheus package"
    return subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rule_test_cases() -> list[dict]:
    return [
        case
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]


def test_the_rules_pass_promtool_check():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda path: path.stem)
def test_the_rule_group_passes_its_promtool_tests(path: Path):
    result = promtool("test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_group_has_a_test_file():
    groups = {group["name"] for group in yaml.safe_load(RULES.read_text())["groups"]}
    assert groups == {path.stem for path in RULE_TESTS}


def test_every_alert_has_a_case_that_fires_and_one_that_does_not():
    cases = rule_test_cases()
    for alert in alerts():
        mine = [case for case in cases if case["alertname"] == alert["alert"]]
        assert any(case.get("exp_alerts") for case in mine), f"{alert['alert']} never fires in a test"
        assert any(not case.get("exp_alerts") for case in mine), f"{alert['alert']} is never quiet in a test"


def test_every_alert_links_its_runbook():
    for alert in alerts():
        runbook = alert["annotations"].get("runbook_url", "")
        assert runbook.startswith("docs/runbooks/"), alert["alert"]
        assert (REPO / runbook).is_file(), f"{alert['alert']}: {runbook} is missing"
