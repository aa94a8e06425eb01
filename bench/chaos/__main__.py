"""`make chaos` (python -m bench.chaos [--signups N] [SCENARIO…]): the fault matrix on a private stack.

Starts the run's own Kafka broker, PostgreSQL cluster and SMTP sink (state in .state/chaos), the
service processes against them, runs each scenario in turn and prints the table. Exits 1 when a
mail is missing or duplicated outside the documented window, or a signup met an error.
"""

import argparse
import sys
import time
from pathlib import Path

from accounts_common.events.topics import ensure_topics
from bench.chaos.infra import STATE, PrivateKafka, PrivatePostgres, PrivateSink
from bench.chaos.scenarios import SCENARIOS, Chaos, Outcome, Scenario, run_scenario
from bench.chaos.stack import ChaosStack, StackConfig

MAILER_GROUP = "mailer"
COLUMNS = (
    "scenario",
    "accepted",
    "503",
    "errors",
    "delivered",
    "missing",
    "duplicated",
    "burst",
    "drain",
    "result",
)


def table(outcomes: list[Outcome]) -> str:
    """The outcomes as a Markdown table, one row a scenario."""
    rows = [COLUMNS, tuple("---" for _ in COLUMNS)]
    for o in outcomes:
        drain = "never" if o.drain_s is None else f"{o.drain_s:.1f} s"
        verdict = "ok" if o.ok else "FAIL"
        notes = f" ({'; '.join(o.notes)})" if o.notes else ""
        rows.append(
            (
                o.name,
                f"{o.accepted}/{o.sent}",
                str(o.refused),
                o.errors or "0",
                f"{o.delivered}/{o.expected}",
                str(o.missing),
                f"{o.duplicated} (allowed {o.duplicates_allowed})",
                f"{o.burst_s:.1f} s",
                drain,
                verdict + notes,
            )
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def run_matrix(scenarios: list[Scenario], signups: int, logs: Path) -> list[Outcome]:
    """The single-broker scenarios, then those of the three-broker cluster, each on its own Kafka."""
    postgres, sink = PrivatePostgres(), PrivateSink(logs)
    print("chaos: starting a private PostgreSQL and SMTP sink", flush=True)
    postgres.reset_and_start()
    sink.start()
    outcomes: list[Outcome] = []
    try:
        for brokers, cluster in ((1, False), (3, True)):
            chosen = [scenario for scenario in scenarios if scenario.cluster == cluster]
            if chosen:
                outcomes += run_on_kafka(PrivateKafka(brokers), postgres, sink, chosen, signups, logs)
    finally:
        sink.stop()
        postgres.stop()
    return outcomes


def run_on_kafka(
    kafka: PrivateKafka,
    postgres: PrivatePostgres,
    sink: PrivateSink,
    scenarios: list[Scenario],
    signups: int,
    logs: Path,
) -> list[Outcome]:
    print(f"chaos: starting {kafka.brokers} private broker(s) ({kafka.bootstrap_servers})", flush=True)
    kafka.reset_and_start()
    ensure_topics(kafka.bootstrap_servers)
    config = StackConfig(
        kafka=kafka.bootstrap_servers,
        identity_database_url=postgres.database_url("identity"),
        mailer_database_url=postgres.database_url("mailer"),
        smtp_port=sink.smtp_port,
        mailer_group=MAILER_GROUP,
        logs=logs / f"{kafka.brokers}-broker",
    )
    config.logs.mkdir(parents=True, exist_ok=True)
    stack = ChaosStack(config)
    outcomes = []
    try:
        stack.start()
        chaos = Chaos(stack=stack, inbox=sink.inbox, kafka=kafka, postgres=postgres)
        for scenario in scenarios:
            print(f"chaos: {scenario.name} ({signups} signups)…", flush=True)
            outcomes.append(run_scenario(chaos, scenario, signups))
            print(table(outcomes[-1:]).splitlines()[-1], flush=True)
    finally:
        stack.stop()
        kafka.stop()
    return outcomes


def main() -> None:
    names = [scenario.name for scenario in SCENARIOS]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"only these: {', '.join(names)}")
    parser.add_argument("--signups", type=int, default=300, help="signups per burst (default 300)")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(names)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    chosen = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    logs = STATE / "logs" / time.strftime("%Y%m%dT%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes = run_matrix(chosen, args.signups, logs)
    print(f"\nchaos: {len(outcomes)} scenarios in {time.monotonic() - started:.0f} s (logs in {logs})\n")
    print(table(outcomes))
    sys.exit(0 if all(o.ok for o in outcomes) else 1)


if __name__ == "__main__":
    main()
