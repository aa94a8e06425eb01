"""`identity staff grant|revoke EMAIL ROLE` (what `make staff-grant` runs) with a mistyped address."""

import argparse

import pytest

from identity.entrypoints.staff_cli import run_staff_command


@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_a_mistyped_email_is_a_clear_message_not_a_traceback(action):
    args = argparse.Namespace(staff_action=action, email="ana.example.org", role="admin")
    with pytest.raises(SystemExit) as exited:
        run_staff_command(None, args)  # type: ignore[arg-type]  # refused before the database
    assert str(exited.value) == (
        "identity: ana.example.org is not an email address: An email address must have an @-sign."
    )
