"""`identity staff grant|revoke EMAIL ROLE` and `identity staff list`: how the first admin is made (and
how roles are fixed without the console). Recorded in the audit trail with `via: cli`."""

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


def run_staff_command(app: Identity, args: argparse.Namespace) -> None:
    if args.staff_action == "list":
        members = staff.members(app)
        for member in members:
            mfa = "TOTP" if member.mfa_enrolled else "no second factor yet"
            print(f"{member.email}\t{','.join(member.roles)}\t{mfa}")
        if not members:  # on stderr: the list on stdout stays one member a line
            print("identity: no account has a staff role yet", file=sys.stderr)
        return
    change = staff.grant if args.staff_action == "grant" else staff.revoke
    try:
        email = normalise_email(args.email)
    except InvalidEmail as error:
        sys.exit(f"identity: {args.email} is not an email address: {error}")
    try:
        changed = change(app, email, Role(args.role))
    except UnknownAccount:
        sys.exit(f"identity: no verified account has the email {args.email}")
    grant = args.staff_action == "grant"
    if changed:
        print(f"identity: {args.role} {'granted to' if grant else 'revoked from'} {args.email}")
    else:
        held = "already has" if grant else "does not have"
        print(f"identity: {args.email} {held} {args.role} (nothing to change)")
