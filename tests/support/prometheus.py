"""A Prometheus process scraping test processes, configured by deploy/observability/scrape_config.py."""

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from accounts_testkit.ports import free_port
from tests.support.polling import wait_for
from tests.support.processes import http_ok

REPO = Path(__file__).resolve().parents[2]
SCRAPE_CONFIG = REPO / "deploy" / "observability" / "scrape_config.py"
OBSERVABILITY_RULES = REPO / "deploy" / "observability" / "alerts.yaml"


class PrometheusError(Exception):
    """Prometheus refused a request (a query that does not parse: its message)."""


class Prometheus:
    """`prometheus` on a free port, its data and configuration in `folder`, scraping `targets`."""

    def __init__(self, folder: Path, targets: list[str], interval: str = "1s") -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: `make install` installs Debian's prometheus package"
        config = folder / "prometheus.yml"
        config.write_text(
            subprocess.run(
                [sys.executable, str(SCRAPE_CONFIG), "--interval", interval, *targets],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = folder / "prometheus.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={folder / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout=30, what="Prometheus")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log_path.read_text()[-3000:]}")
        return http_ok(f"{self.url}/-/ready")

    def api(self, path: str, **params: str) -> Any:
        """The `data` of an HTTP API answer; PrometheusError with Prometheus's message on an error."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)["data"]
        except urllib.error.HTTPError as error:
            raise PrometheusError(json.load(error).get("error", str(error))) from None

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of `expr` now."""
        return self.api("query", query=expr)["result"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
