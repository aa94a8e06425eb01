"""The worker's handlers: the shared projection of verified accounts and revocations, plus the
catalogue's own: a deleted account's download grants are erased, a reset password's revoked."""

from typing import Any

import psycopg

from accounts_common.account_projection import (
    ACCOUNT_PROJECTION_HANDLERS,
    record_account_deleted,
    record_password_reset_email,
)
from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from catalogue.adapters import grant_store


def account_deleted(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
    """Revoke the account's tokens, drop it from known accounts, and detach it from its grants."""
    record_account_deleted(conn, event, data)
    grant_store.forget_account_grants(conn, data["account_id"])


def password_reset(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
    """Revoke the account's older tokens, and the download links those tokens were given."""
    record_password_reset_email(conn, event, data)
    grant_store.revoke_grants_before(conn, data["account_id"], data["reset_at"])


HANDLERS: dict[str, Handler] = {
    **ACCOUNT_PROJECTION_HANDLERS,
    "AccountDeleted": account_deleted,
    "PasswordReset": password_reset,
}
