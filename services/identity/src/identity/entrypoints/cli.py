"""`identity migrate | web | relay | audit-log | housekeeping | rotate-key | staff | erase-again`: the
service's processes and chores, each run on its own."""

import argparse
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts_common.cli import ServiceCli, consume
from accounts_common.events.topics import ACCOUNT_EVENTS, OPERATOR_ACTIONS
from accounts_common.rewind import aware_time
from identity.adapters.tokens import insert_signing_key, key_sealer, retire_signing_keys
from identity.bootstrap import bootstrap
from identity.entrypoints.staff_cli import add_staff_arguments, run_staff_command
from identity.migrations import IDENTITY_MIGRATIONS
from identity.service_layer import audit_log, erasures, housekeeping
from identity.settings import Settings

KEYS_KEPT = 2  # the new key and the one before it, whose tokens are still live


def relay_with_housekeeping(settings: Settings) -> dict[str, Any]:
    """Every IDENTITY_HOUSEKEEPING_INTERVAL_S, the relay sweeps expired rows too."""
    identity = bootstrap(settings)
    return {
        "housekeeping": housekeeping.expiries(settings),
        "housekeeping_interval_s": settings.housekeeping_interval_s,
        "chores": (lambda conn: housekeeping.purge_expired_registrations(identity, conn),),
    }


cli = ServiceCli("identity", __doc__, Settings)
cli.migrate(IDENTITY_MIGRATIONS)
# Sync workers: with threads, up to 8 hashes shared the 2 cores and the signup → code p99 at
# 80 % of the peak went from 71 to 113 ms for the same peak (bench/signup_load.py).
cli.web("serve the HTTP API with gunicorn")
cli.relay(
    "publish the outbox to Kafka (and sweep expired rows periodically)", options=relay_with_housekeeping
)
main = cli.main


@cli.command("audit-log", "keep every service's operator actions (audit.operator-actions.v1) for the console")
def run_audit_log(settings: Settings, _args: argparse.Namespace) -> None:
    """Project the audit topic into operator_actions until SIGTERM (consumer group identity-audit)."""
    group, topics = settings.audit_consumer_group, (OPERATOR_ACTIONS,)
    consume(settings, "audit", "identity-audit", group, topics, audit_log.HANDLERS)


@cli.command("housekeeping", "delete expired registrations, codes, sessions and counters once")
def sweep_once(settings: Settings, _args: argparse.Namespace) -> None:
    deleted = housekeeping.sweep(bootstrap(settings))
    rows = ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in deleted.items())
    print(f"identity: housekeeping deleted {rows}")


@cli.command("rotate-key", "add a new database signing key and retire all but the two newest")
def rotate_key(settings: Settings, _args: argparse.Namespace) -> None:
    """Add a signing key to the database (it signs once workers refresh) and retire the oldest."""
    if settings.signing_keys_pem.strip():
        raise SystemExit(
            "identity: IDENTITY_SIGNING_KEYS is set: rotate by changing it (new key first, old one second)"
        )
    with psycopg.connect(settings.database_url, autocommit=True) as conn, conn.transaction():
        kid = insert_signing_key(conn, key_sealer(settings), Ed25519PrivateKey.generate())
        retired = retire_signing_keys(conn, keep=KEYS_KEPT)
    print(f"identity: new signing key {kid}; {retired} older key(s) retired")


def since_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", required=True, type=aware_time, help="the restore point: 2026-12-07T09:00Z"
    )


@cli.command(
    "erase-again", "after a restore: erase again the accounts deleted since the restore point", since_argument
)
def run_erase_again(settings: Settings, args: argparse.Namespace) -> None:
    """Read the AccountDeleted events since --since and erase again the accounts the restore brought back."""
    topic = settings.topic_prefix + ACCOUNT_EVENTS
    deleted = erasures.deleted_since(settings.kafka_bootstrap_servers, topic, args.since)
    erased = erasures.erase_again(bootstrap(settings), deleted)
    print(f"identity: {len(deleted)} account(s) deleted since {args.since.isoformat()}; erased again:")
    for account_id in erased:
        print(account_id)


@cli.command("staff", "grant, revoke or list staff roles", add_staff_arguments)
def run_staff(settings: Settings, args: argparse.Namespace) -> None:
    run_staff_command(bootstrap(settings), args)


if __name__ == "__main__":
    main()
