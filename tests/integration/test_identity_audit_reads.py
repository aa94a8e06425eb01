"""Reading the audit trail while an actor's account comes and goes, against PostgreSQL: the page of a
person's actions and their count are one moment of the trail, never a page from before the account's
deletion and a count from after it."""

import uuid
from datetime import UTC, datetime

from identity.adapters import account_store
from identity.adapters import audit_log as audit_log_sql
from identity.adapters.audit_log import AuditFilter
from identity.service_layer import audit_log
from tests.support.moments import answers_while


def test_a_persons_actions_read_while_their_account_goes_are_counted_as_listed(
    identity, identity_pool, unique_email
):
    person = uuid.uuid4()
    data = {"actor_account_id": person, "via": "api", "action": "video.edited", "target": "video 1",
            "outcome": "ok", "at": datetime.now(UTC)}  # fmt: skip
    with identity_pool.connection() as conn:
        account_store.insert_account(conn, person, unique_email, None)
        audit_log_sql.insert(conn, str(uuid.uuid4()), "/catalogue", data)

    def erase_and_come_back() -> None:
        with identity_pool.connection() as conn:
            conn.execute("DELETE FROM accounts WHERE id = %s", (person,))
            account_store.insert_account(conn, person, unique_email, None)

    def listed_and_counted() -> tuple[int, int]:
        listed, total, _ = audit_log.entries(
            identity, AuditFilter(actor_email=unique_email), 1, 20, uuid.uuid4()
        )
        return len(listed), total

    assert answers_while(erase_and_come_back, listed_and_counted, reads=500) == {(0, 0), (1, 1)}
