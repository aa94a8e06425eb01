"""The audit trail the console shows: `identity audit-log` keeps every service's OperatorActionRecorded
(audit.operator-actions.v1) in identity's database, where the actors' emails are; admins read it."""

from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg

from accounts_common.audit import record_action
from accounts_common.db import one_moment
from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from accounts_common.paging import offset
from identity.adapters import audit_log
from identity.adapters.audit_log import AuditEntry, AuditFilter
from identity.bootstrap import Identity
from identity.service_layer.codes import SOURCE


def keep_action(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
    audit_log.insert(conn, event.id, event.source, data)


HANDLERS: dict[str, Handler] = {"OperatorActionRecorded": keep_action}


def entries(
    app: Identity, wanted: AuditFilter, page: int, per_page: int, actor: UUID
) -> tuple[list[AuditEntry], int, int]:
    """A page of the matching entries, newest first, how many match, and the `as_of` the listing stands
    at (`wanted.as_of`, or the newest entry now: the later pages ask for it), all at one moment (an
    actor's account deleted meanwhile would leave the page counted without its entries). Reading the
    trail is recorded in it too."""
    with app.pool.connection() as conn, one_moment(conn, inserts=True):
        record_action(conn, source=SOURCE, actor_account_id=actor, action="audit.read", target="audit")
        as_of = audit_log.as_of(conn) if wanted.as_of is None else wanted.as_of
        wanted = replace(wanted, as_of=as_of)
        listed = audit_log.entries(conn, wanted, per_page, offset(page, per_page))
        return listed, audit_log.count(conn, wanted), as_of
