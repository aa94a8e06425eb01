"""`identity staff grant|revoke EMAIL ROLE`, `identity staff list` and `identity staff reset-totp EMAIL`:
how the first admin is made (and how roles and a lost second factor are fixed without the console).
Recorded in the audit trail with `via: cli`."""

import argparse
import sys

from accounts_common.roles import ROLES, Role
from identity.bootstrap import Identity
from identity.domain.emails import InvalidEmail, normalise_email
from identity.service_layer import staff
from identity.service_layer.errors import UnknownAccount


def add_staff_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="staff_action", required=True)
    for action in ("grant", "revoke"):
        change = actions.add_parser(
            action,
            help=f"{action} a role (the account must be verified); done already: says so, exit 0",
        )
        change.add_argument("email", help="the account's email address")
        change.add_argument("role", choices=ROLES, metavar="role", help="one of %(choices)s")
    actions.add_parser(
        "list", help="every account with a role, and whether it has a second factor: EMAIL<tab>ROLES<tab>MFA"
    )
    reset = actions.add_parser(
        "reset-totp",
        help="remove an account's second factor (phone and recovery codes lost) and end its sessions;"
        " it logs in with its password and enrols again",
    )
    reset.add_argument("email", help="the account's email address")


def run_staff_command(app: Identity, args: argparse.Namespace) -> None:
    if args.staff_action == "list":
        members = staff.members(app)
        for member in members:
            mfa = "TOTP" if member.mfa_enrolled else "no second factor yet"
            print(f"{member.email}\t{','.join(member.roles)}\t{mfa}")
        if not members:  # on stderr: the list on stdout stays one member a line
            print("identity: no account has a staff role yet", file=sys.stderr)
        return
    try:
        email = normalise_email(args.email)
    except InvalidEmail as error:
        sys.exit(f"identity: {args.email} is not an email address: {error}")
    try:
        resetting = args.staff_action == "reset-totp"
        print(_reset_second_factor(app, email) if resetting else _change(app, email, args))
    except UnknownAccount:
        sys.exit(f"identity: no verified account has the email {args.email}")


def _change(app: Identity, email: str, args: argparse.Namespace) -> str:
    """Grant or revoke the role; what to tell the operator."""
    grant = args.staff_action == "grant"
    if (staff.grant if grant else staff.revoke)(app, email, Role(args.role)):
        return f"identity: {args.role} {'granted to' if grant else 'revoked from'} {args.email}"
    held = "already has" if grant else "does not have"
    return f"identity: {args.email} {held} {args.role} (nothing to change)"


def _reset_second_factor(app: Identity, email: str) -> str:
    if staff.reset_second_factor(app, email):
        return f"identity: second factor removed from {email}, its sessions ended; it enrols again"
    return f"identity: {email} has no second factor (nothing to change)"
