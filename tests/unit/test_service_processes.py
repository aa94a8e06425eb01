"""tests/support/processes.py: the processes the tests and benchmarks start listen on no port of
`make run`'s (or of another checkout's tests)."""

import importlib
import json
from pathlib import Path

import pytest

from tests.support.processes import ServiceProcess

SERVICES = ("identity", "mailer", "catalogue", "newsletter", "portal")
PRINT_ENVIRONMENT = "import json, os; print(json.dumps(dict(os.environ)))"


def metrics_port_variables() -> set[str]:
    every = set().union(*(importlib.import_module(f"{s}.settings").Settings.variables() for s in SERVICES))
    return {name for name in every if name.endswith("_METRICS_PORT")}


def environment_of(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment a process started by ServiceProcess with `env` sees."""
    process = ServiceProcess("environment", ["python", "-c", PRINT_ENVIRONMENT], env, tmp_path).start()
    assert process.process is not None and process.process.wait(30) == 0, process.log_tail()
    return json.loads(process.log_path.read_text())


def test_a_process_serves_its_metrics_on_no_default_port(tmp_path):
    seen = environment_of({}, tmp_path)
    assert "CATALOGUE_WORKER_METRICS_PORT" in metrics_port_variables()
    assert {name: seen.get(name) for name in metrics_port_variables()} == dict.fromkeys(
        metrics_port_variables(), "0"
    )


def test_a_metrics_port_the_test_chooses_is_kept(tmp_path):
    seen = environment_of({"MAILER_WORKER_METRICS_PORT": "19104"}, tmp_path)
    assert seen["MAILER_WORKER_METRICS_PORT"] == "19104"
    assert seen["IDENTITY_RELAY_METRICS_PORT"] == "0"


def test_a_web_process_without_a_port_of_its_own_is_refused_before_it_starts(tmp_path):
    with pytest.raises(ValueError, match="--port"):
        ServiceProcess("identity-web", ["identity", "web", "--workers", "1"], {}, tmp_path)
    assert not (tmp_path / "identity-web.log").exists()
