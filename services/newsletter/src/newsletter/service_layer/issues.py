"""Use cases of issues: an operator publishes one; anyone with the operator token follows its fan-out."""

import uuid
from uuid import UUID

from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.domain.issues import Issue


def publish_issue(newsletter: Newsletter, subject: str, text: str, html: str) -> Issue:
    """Record the issue for every current subscriber; the fan-out worker is woken by NOTIFY."""
    with newsletter.pool.connection() as conn, conn.transaction():
        return repository.insert_issue(conn, uuid.uuid4(), subject, text, html)


def find_issue(newsletter: Newsletter, issue_id: UUID) -> Issue | None:
    with newsletter.pool.connection() as conn:
        return repository.find_issue(conn, issue_id)
