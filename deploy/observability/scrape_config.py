"""Write a Prometheus configuration scraping the given processes, with the alert rules loaded.

    python deploy/observability/scrape_config.py [--interval 15s] [--rules FILE] JOB=HOST:PORT ...

`make run` (deploy/local/run.sh), compose (deploy/containers/compose.sh) and the dashboard test
(tests/e2e/test_dashboard.py) all write theirs with it, from the addresses they start the
processes on. A job named twice (two mailer workers) gets both targets. The output is JSON, which
Prometheus reads as YAML.
"""

import argparse
import json
import sys
from pathlib import Path

RULES = Path(__file__).resolve().parent / "alerts.yaml"


def target(text: str) -> tuple[str, str]:
    job, separator, address = text.partition("=")
    host, colon, port = address.rpartition(":")
    if not (separator and job and host and colon and port.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not JOB=HOST:PORT")
    return job, address


def scrape_config(targets: list[tuple[str, str]], interval: str, rules: list[str]) -> dict[str, object]:
    """The configuration: one scrape job per process kind, every rule file loaded."""
    jobs: dict[str, list[str]] = {}
    for job, address in targets:
        jobs.setdefault(job, []).append(address)
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": rules,
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": addresses}]} for job, addresses in jobs.items()
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interval", default="15s", help="scrape and rule evaluation interval (15s)")
    parser.add_argument("--rules", action="append", help=f"a rule file (default: {RULES})")
    parser.add_argument("targets", nargs="+", type=target, metavar="JOB=HOST:PORT")
    args = parser.parse_args(argv)
    config = scrape_config(args.targets, args.interval, args.rules or [str(RULES)])
    json.dump(config, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
