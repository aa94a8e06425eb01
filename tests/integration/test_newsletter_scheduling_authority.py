"""An issue goes on the authority of the token it was scheduled with: an editor whose role is revoked
while the revocation is on its way to the newsletter cannot leave an issue scheduled behind it, nor
send one: identity itself confirms the role before anything is sent."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from accounts_common.auth import Principal
from accounts_common.events import new_event, validate_data
from accounts_common.problems import Problem
from accounts_common.roles import Role
from identity.service_layer import staff
from newsletter.adapters import repository
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.issues import send_issue
from tests.integration.conftest import account_of
from tests.integration.test_identity_staff import claims
from tests.integration.test_newsletter_issues import create
from tests.support.newsletter import role_revoked
from tests.support.polling import wait_for

TEXTS = ({"en": "Summit", "fr": "Sommet"}, {"en": "Text", "fr": "Texte"})


def editor_token(issued_at: datetime) -> Principal:
    return Principal(uuid.uuid4(), "editor@example.org", True, issued_at, f"jti-{uuid.uuid4().hex}")


def draft(newsletter, editor: Principal) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with newsletter.pool.connection() as conn:
        return repository.insert_issue(conn, uuid.uuid4(), *TEXTS, editor.account_id).id


def test_an_issue_scheduled_while_the_revocation_was_on_its_way_is_held_when_it_arrives(newsletter):
    revoked_at = datetime.now(UTC) - timedelta(seconds=30)
    editor = editor_token(revoked_at - timedelta(minutes=5))  # logged in before it, role and all
    issue_id = draft(newsletter, editor)
    send_issue(newsletter, issue_id, editor, datetime.now(UTC) + timedelta(hours=1))  # after revoked_at
    with newsletter.pool.connection() as conn, conn.transaction():
        account_event_handlers(newsletter)["StaffRoleRevoked"](
            conn, *role_revoked(editor.account_id, uuid.uuid4(), at=revoked_at)
        )
        held = repository.find_issue(conn, issue_id)
    assert held is not None and (held.status, held.held_because) == ("draft", "role-revoked")


def test_a_revocation_handled_after_the_request_was_checked_refuses_the_scheduling(newsletter):
    editor = editor_token(datetime.now(UTC) - timedelta(minutes=5))
    issue_id = draft(newsletter, editor)
    with newsletter.pool.connection() as conn, conn.transaction():
        account_event_handlers(newsletter)["StaffRoleRevoked"](
            conn, *role_revoked(editor.account_id, uuid.uuid4())
        )
    with pytest.raises(Problem) as refused:
        send_issue(newsletter, issue_id, editor, datetime.now(UTC) + timedelta(hours=1))
    assert (refused.value.status, refused.value.slug) == (403, "token-revoked")
    with newsletter.pool.connection() as conn:
        assert repository.find_issue(conn, issue_id).status == "draft"  # type: ignore[union-attr]


def test_every_issue_scheduled_by_a_deleted_account_is_held_whatever_its_token_says(newsletter):
    """Identity's tokens count in whole seconds, and one issued just after a role was granted says the
    next second: it may say a time after the deletion. A deleted account's tokens are all dead."""
    deleted_at = datetime.now(UTC)
    editor = editor_token(deleted_at + timedelta(seconds=1))
    issue_id = draft(newsletter, editor)
    send_issue(newsletter, issue_id, editor, datetime.now(UTC) + timedelta(hours=1))
    data = {"account_id": str(editor.account_id), "deleted_at": deleted_at.isoformat()}
    event = new_event("AccountDeleted", source="/identity", subject=str(editor.account_id), data=data)
    with newsletter.pool.connection() as conn, conn.transaction():
        account_event_handlers(newsletter)["AccountDeleted"](conn, event, validate_data(event.type, data))
        held = repository.find_issue(conn, issue_id)
    assert held is not None and (held.status, held.held_because) == ("draft", "account-deleted")


def test_a_scheduling_waits_for_a_revocation_being_handled_and_is_refused_by_it(newsletter):
    """The revocation's handler holds the account's lock: the scheduling waits for it to commit, then
    sees the revocation (without the lock it would schedule meanwhile, and the handler, having looked
    for the editor's scheduled issues already, would leave it scheduled)."""
    editor = editor_token(datetime.now(UTC) - timedelta(minutes=5))
    issue_id = draft(newsletter, editor)
    with ThreadPoolExecutor(1) as threads, newsletter.pool.connection() as handling:
        with handling.transaction():
            account_event_handlers(newsletter)["StaffRoleRevoked"](
                handling, *role_revoked(editor.account_id, uuid.uuid4())
            )
            sending = threads.submit(
                send_issue, newsletter, issue_id, editor, datetime.now(UTC) + timedelta(hours=1)
            )
            wait_for(
                lambda: sending.done() or waiting_for_a_lock(newsletter), timeout=30, what="the scheduling"
            )
        with pytest.raises(Problem) as refused:
            sending.result(timeout=30)
    assert (refused.value.status, refused.value.slug) == (403, "token-revoked")
    with newsletter.pool.connection() as conn:
        assert repository.find_issue(conn, issue_id).status == "draft"  # type: ignore[union-attr]


def waiting_for_a_lock(newsletter) -> bool:  # type: ignore[no-untyped-def]
    """Whether a session of the newsletter's database waits for an advisory lock (the account's)."""
    with newsletter.pool.connection() as conn:
        waiting = conn.execute(
            """SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'advisory'
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
        ).fetchone()
    return waiting is not None and waiting[0] > 0


def status_of(newsletter_client, editor: dict[str, str], issue_id: str) -> str:  # type: ignore[no-untyped-def]
    return str(newsletter_client.get(f"/v1/issues/{issue_id}", headers=editor).json["status"])


@pytest.mark.parametrize("send_at", [None, "in an hour"], ids=["now", "scheduled"])
def test_an_editor_whose_role_identity_revoked_sends_nothing_before_the_newsletter_hears_of_it(
    newsletter_client, newsletter_editor, served_identity, send_at
):
    """The newsletter has not read the revocation (its consumer held up, say): identity's answer refuses."""
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    email = claims(newsletter_editor["Authorization"].split()[1])["email"]
    staff.revoke(served_identity.app.extensions["identity"], email, Role.NEWSLETTER_EDITOR)
    body = {"send_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()} if send_at else {}
    refused = newsletter_client.post(f"/v1/issues/{issue_id}/send", json=body, headers=newsletter_editor)
    assert (refused.status_code, refused.json["type"].rsplit("/", 1)[-1]) == (403, "token-revoked")
    assert status_of(newsletter_client, newsletter_editor, issue_id) == "draft"


def test_a_role_identity_no_longer_lists_is_refused_though_the_token_still_says_it(
    newsletter_client, newsletter_editor, identity_pool
):
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    account_id = account_of(newsletter_editor["Authorization"].split()[1])
    with identity_pool.connection() as conn:  # the role gone, the session left open
        conn.execute("DELETE FROM staff_roles WHERE account_id = %s", (account_id,))
    refused = newsletter_client.post(f"/v1/issues/{issue_id}/send", json={}, headers=newsletter_editor)
    assert (refused.status_code, refused.json["type"].rsplit("/", 1)[-1]) == (403, "role-required")
    assert status_of(newsletter_client, newsletter_editor, issue_id) == "draft"


def test_with_identity_out_of_reach_nothing_is_sent_and_the_editor_is_told_to_try_again(
    newsletter_client, newsletter_editor, served_identity
):
    issue_id = create(newsletter_client, newsletter_editor)["id"]  # the newsletter holds identity's keys now
    served_identity.close()
    refused = newsletter_client.post(f"/v1/issues/{issue_id}/send", json={}, headers=newsletter_editor)
    assert (refused.status_code, refused.json["type"].rsplit("/", 1)[-1]) == (503, "identity-unavailable")
    assert refused.headers["Retry-After"] == "5"
    assert status_of(newsletter_client, newsletter_editor, issue_id) == "draft"
