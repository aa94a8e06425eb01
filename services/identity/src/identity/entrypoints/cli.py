"""`identity migrate | web | relay | audit-log | housekeeping | rotate-key | staff`: the service's
processes and chores, each run on its own."""

import argparse
import threading

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg_pool import ConnectionPool

from accounts_common.config import env_int, load_settings
from accounts_common.consumer import EventConsumer
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, migrate
from accounts_common.events.topics import OPERATOR_ACTIONS
from accounts_common.outbox import OutboxRelay
from accounts_common.process import (
    add_web_command,
    configure_logging,
    exec_gunicorn,
    run_until_signalled,
    serve_metrics,
)
from identity.adapters.tokens import insert_signing_key, key_sealer, retire_signing_keys
from identity.bootstrap import bootstrap
from identity.entrypoints.staff_cli import add_staff_command, run_staff_command
from identity.service_layer import audit_log, housekeeping
from identity.settings import Settings

IDENTITY_MIGRATIONS = MigrationSet("identity", "identity")
KEYS_KEPT = 2  # the new key and the one before it, whose tokens are still live


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="identity", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    add_web_command(
        commands, help="serve the HTTP API with gunicorn", port_variable="IDENTITY_PORT", default_port=8001
    )
    commands.add_parser("relay", help="publish the outbox to Kafka (and sweep expired rows periodically)")
    commands.add_parser(
        "audit-log", help="keep every service's operator actions (audit.operator-actions.v1) for the console"
    )
    commands.add_parser(
        "housekeeping", help="delete expired registrations, codes, sessions and counters once"
    )
    commands.add_parser("rotate-key", help="add a new database signing key and retire all but the two newest")
    add_staff_command(commands)
    args = parser.parse_args(argv)
    configure_logging()
    settings = load_settings("identity", Settings.from_env)
    if args.command == "migrate":
        applied = migrate(settings.database_url, COMMON_MIGRATIONS, IDENTITY_MIGRATIONS)
        print(f"identity: {len(applied)} migration(s) applied")
    elif args.command == "web":
        # Sync workers: with threads, up to 8 hashes shared the 2 cores and the signup → code p99 at
        # 80 % of the peak went from 71 to 113 ms for the same peak (bench/signup_load.py).
        exec_gunicorn(
            "identity.entrypoints.app:create_app()", host=args.host, port=args.port, workers=args.workers
        )
    elif args.command == "rotate-key":
        rotate_key(settings)
    elif args.command == "staff":
        run_staff_command(bootstrap(settings), args)
    elif args.command == "audit-log":
        run_audit_log(settings)
    elif args.command == "housekeeping":
        print(f"identity: housekeeping deleted {housekeeping.sweep(bootstrap(settings))}")
    else:
        serve_metrics(settings.relay_metrics_port, settings.relay_metrics_host)
        run_until_signalled(lambda stop: relay_with_housekeeping(settings, stop))


def run_audit_log(settings: Settings) -> None:
    """Project the audit topic into operator_actions until SIGTERM (consumer group identity-audit)."""
    serve_metrics(settings.audit_metrics_port, settings.audit_metrics_host)
    with ConnectionPool(
        settings.database_url, name="identity-audit", min_size=1, max_size=2, kwargs={"autocommit": True}
    ) as pool:
        consumer = EventConsumer(
            group=settings.audit_consumer_group,
            topics=(settings.topic_prefix + OPERATOR_ACTIONS,),
            handlers=audit_log.HANDLERS,
            pool=pool,
            bootstrap_servers=settings.kafka_bootstrap_servers,
        )
        run_until_signalled(consumer.run)


def relay_with_housekeeping(settings: Settings, stop: threading.Event) -> None:
    """Publish the outbox; every IDENTITY_HOUSEKEEPING_INTERVAL_S, sweep expired rows too."""
    identity = bootstrap(settings)
    relay = OutboxRelay(
        settings.database_url,
        settings.kafka_bootstrap_servers,
        client_id="identity-relay",
        topic_prefix=settings.topic_prefix,
        housekeeping=housekeeping.expiries(settings),
        housekeeping_interval_s=env_int("IDENTITY_HOUSEKEEPING_INTERVAL_S", 300),
        chores=(lambda conn: housekeeping.purge_expired_registrations(identity, conn),),
    )
    relay.run(stop)


def rotate_key(settings: Settings) -> None:
    """Add a signing key to the database (it signs once workers refresh) and retire the oldest."""
    if settings.signing_keys_pem.strip():
        raise SystemExit(
            "IDENTITY_SIGNING_KEYS is set: rotate by changing it (new key first, old one second)"
        )
    with psycopg.connect(settings.database_url, autocommit=True) as conn, conn.transaction():
        kid = insert_signing_key(conn, key_sealer(settings), Ed25519PrivateKey.generate())
        retired = retire_signing_keys(conn, keep=KEYS_KEPT)
    print(f"identity: new signing key {kid}; {retired} older key(s) retired")


if __name__ == "__main__":
    main()
