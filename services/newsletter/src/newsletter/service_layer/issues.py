"""Use cases of issues: a newsletter editor publishes one and follows its fan-out."""

import uuid
from datetime import UTC, datetime
from uuid import UUID

from accounts_common.audit import record_action
from accounts_common.events.topics import OPERATOR_ACTIONS
from accounts_common.kafka import MAX_RECORD_BYTES
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.domain.issues import Issue, Recipient, delivery_request, unsubscribe_url
from newsletter.service_layer.subscriptions import SOURCE

# The producer refuses a record over MAX_RECORD_BYTES; leave room for the key, headers and framing.
MAX_VALUE_BYTES = MAX_RECORD_BYTES - 1024
LONGEST_EMAIL = "x" * 64 + "@" + "x" * 189


class IssueTooLarge(Exception):
    """One delivery request of the issue would not fit in a Kafka record."""


def publish_issue(
    newsletter: Newsletter, subject: str, text: str, html: str, editor: UUID | None = None
) -> Issue:
    """Record the issue for every current subscriber; the fan-out worker is woken by NOTIFY. The
    editor's action goes to the audit trail in the same transaction."""
    issue_id = uuid.uuid4()
    _check_record_size(newsletter, Issue(issue_id, subject, text, html, datetime.now(UTC), 0, 0, 0, 0, None))
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.insert_issue(conn, issue_id, subject, text, html)
        record_action(
            conn,
            source=SOURCE,
            actor_account_id=editor,
            action="issue.sent",
            target=f"issue {issue_id}: {subject}"[:512],
            topic=newsletter.topic(OPERATOR_ACTIONS),
        )
        return issue


def find_issue(newsletter: Newsletter, issue_id: UUID) -> Issue | None:
    with newsletter.pool.connection() as conn:
        return repository.find_issue(conn, issue_id)


def _check_record_size(newsletter: Newsletter, issue: Issue) -> None:
    """Refuse now an issue whose records Kafka would refuse later, stalling the fan-out."""
    recipient = Recipient(0, uuid.uuid4(), LONGEST_EMAIL, "fr")
    link = unsubscribe_url(newsletter.settings.portal_url, "x" * 66, recipient)
    record = delivery_request(issue, recipient, link, datetime.now(UTC).isoformat())
    if len(record.to_json().encode()) > MAX_VALUE_BYTES:
        raise IssueTooLarge()
