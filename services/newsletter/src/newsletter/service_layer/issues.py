"""Use cases of issues: an editor writes one in both languages, test-sends it, sends or schedules it,
cancels it before it goes, and follows its figures. Every action is audited in its transaction."""

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from accounts_common.account_projection import known_account_email
from accounts_common.audit import record_action
from accounts_common.auth import Principal, act_for
from accounts_common.db import one_moment
from accounts_common.events.topics import NEWSLETTER_DELIVERIES
from accounts_common.kafka import MAX_RECORD_BYTES
from accounts_common.outbox import enqueue
from accounts_common.paging import offset
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.domain.content import LANGUAGES, Rendered
from newsletter.domain.issues import Issue, IssueView, Recipient, delivery_request, unsubscribe_url
from newsletter.domain.unsubscribe import unsubscribe_token
from newsletter.service_layer.subscriptions import SOURCE

# The producer refuses a record over MAX_RECORD_BYTES; leave room for the key, headers and framing.
MAX_VALUE_BYTES = MAX_RECORD_BYTES - 1024
LONGEST_EMAIL = "x" * 64 + "@" + "x" * 189


class IssueNotFound(Exception):
    """No issue has this id."""


class WrongStatus(Exception):
    """The issue is not in a status that allows this (sending a sent issue, editing a scheduled one)."""

    def __init__(self, status: str) -> None:
        super().__init__(f"The issue is {status}: it cannot be changed so.")
        self.status = status


class IssueChanged(Exception):
    """The issue was edited since the copy the editor read (another editor, another tab, a new video):
    sending it would mail a text nobody confirmed, saving over it would wipe that edit unseen."""


class IssueIncomplete(Exception):
    """A language lacks its subject or body, or its body renders to nothing; `errors`:
    {"subject.fr": ["Missing…"]}."""

    def __init__(self, missing: dict[str, list[str]]) -> None:
        super().__init__(missing)
        self.errors = missing


class SendTimePassed(Exception):
    """`send_at` is further in the past than SEND_AT_GRACE: taken as now, it would mail every
    subscriber at once, when the editor meant a time (a local time typed as UTC, a wrong day)."""

    def __init__(self) -> None:
        super().__init__("send_at has passed")
        self.errors = {"send_at": ["This time has passed: leave it out to send now, or give a later one."]}


# A time this close behind counts as now: the console's field takes whole minutes, and a form
# takes a while to send.
SEND_AT_GRACE = timedelta(minutes=2)


class IssueTooLarge(Exception):
    """One delivery request of the issue would not fit in a Kafka record."""


def create_issue(
    newsletter: Newsletter, subjects: dict[str, str], bodies: dict[str, str], editor: UUID | None
) -> IssueView:
    """Record a draft (a language may still be missing: it is refused only when sent)."""
    issue_id = uuid.uuid4()
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.insert_issue(conn, issue_id, subjects, bodies, editor)
        _audit(newsletter, conn, editor, "issue.created", issue)
    return IssueView(issue)


def update_issue(
    newsletter: Newsletter,
    issue_id: UUID,
    subjects: dict[str, str],
    bodies: dict[str, str],
    editor: UUID,
    *,
    read: datetime | None = None,
) -> IssueView:
    """Rewrite a draft's texts; IssueChanged when it is no longer the copy the editor `read` (its
    updated_at then), and nothing is written. A save over an older copy of a draft that holds these
    very texts (a double click on Save, two editors typing the same fix) wipes nothing: it is taken,
    unchanged."""
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.update_draft(conn, issue_id, subjects, bodies, read=read)
        outcome = "ok"
        if issue is None:
            issue = repository.find_issue(conn, issue_id, lock=True)
            if issue is None or (issue.status, issue.subjects, issue.bodies) != ("draft", subjects, bodies):
                raise _why_not(conn, issue_id)
            outcome = "unchanged"
        _audit(newsletter, conn, editor, "issue.edited", issue, outcome)
    return IssueView(issue)


def send_issue(
    newsletter: Newsletter,
    issue_id: UUID,
    editor: Principal,
    send_at: datetime | None = None,
    *,
    read: datetime | None = None,
) -> IssueView:
    """Send a complete draft now (status sending), or at `send_at` (scheduled) when that is ahead;
    SendTimePassed when it is well behind; IssueChanged when it is no longer the copy the editor
    `read` (its updated_at then). The editor's token is checked again under their account's lock, as
    a revocation's handler takes it: a role revoked meanwhile refuses (403), or holds what this
    scheduled once it is handled (repository.hold_scheduled_by)."""
    with newsletter.pool.connection() as conn, conn.transaction():
        act_for(conn, editor)
        issue = repository.find_issue(conn, issue_id, lock=True)
        if issue is None:
            raise IssueNotFound()
        if issue.status != "draft":
            raise WrongStatus(issue.status)
        if read is not None and read != issue.updated_at:
            raise IssueChanged()
        if missing := issue.missing():
            raise IssueIncomplete(missing)
        _check_record_size(newsletter, issue)
        if send_at is not None and send_at < datetime.now(UTC) - SEND_AT_GRACE:
            raise SendTimePassed()
        if send_at is not None and send_at > datetime.now(UTC):
            started = repository.schedule(conn, issue_id, send_at, editor.account_id, editor.issued_at)
            action = "issue.scheduled"
        else:
            started = repository.start_sending(conn, issue_id, "draft")
            action = "issue.sent"
        assert started is not None  # locked above
        _audit(newsletter, conn, editor.account_id, action, started)
    return IssueView(started)


def start_scheduled(newsletter: Newsletter, conn: psycopg.Connection, issue: Issue) -> Issue | None:
    """The scheduler starts a due issue (in the caller's transaction), audited as sent by the editor
    who scheduled it; None when it was cancelled meanwhile."""
    started = repository.start_sending(conn, issue.id, "scheduled")
    if started is not None:
        _audit(newsletter, conn, issue.editor_id, "issue.sent", started)
    return started


def hold_issues_scheduled_by(
    newsletter: Newsletter,
    conn: psycopg.Connection,
    editor: UUID,
    because: str,
    actor: UUID | None,
    revoked_before: datetime | None,
) -> list[Issue]:
    """The issues `editor` scheduled on a token issued before `revoked_before` (every one: None) no
    longer go on their authority (they lost the role, or their account): back to draft `because`, for
    another editor to schedule, each audited as unscheduled by `actor` (who revoked the role, None
    from the command line; the account deleted)."""
    held = repository.hold_scheduled_by(conn, editor, because, revoked_before)
    for issue in held:
        _audit(newsletter, conn, actor, "issue.unscheduled", issue)
    return held


def cancel_issue(newsletter: Newsletter, issue_id: UUID, editor: UUID) -> IssueView:
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.cancel(conn, issue_id)
        if issue is None:
            raise _why_not(conn, issue_id)
        _audit(newsletter, conn, editor, "issue.cancelled", issue)
    return IssueView(issue)


def send_test(newsletter: Newsletter, issue_id: UUID, editor: Principal) -> tuple[str, list[str]]:
    """Send each written language of the issue to the editor alone, at the editor's address (their
    account's current one); the address and the languages sent."""
    with newsletter.pool.connection() as conn, conn.transaction():
        issue = repository.find_issue(conn, issue_id)
        if issue is None:
            raise IssueNotFound()
        mails = issue.rendered(newsletter.settings.portal_url)
        if not mails:
            raise IssueIncomplete(issue.missing())
        if empty := issue.rendered_empty():
            raise IssueIncomplete(empty)
        _check_record_size(newsletter, issue)
        email = known_account_email(conn, editor.account_id) or editor.email
        time = datetime.now(UTC).isoformat()
        token = unsubscribe_token(newsletter.settings.unsubscribe_key, editor.account_id)
        for language, mail in mails.items():
            recipient = Recipient(0, editor.account_id, email, language)
            link = unsubscribe_url(newsletter.settings.portal_url, token, recipient)
            event = delivery_request(issue.id, mail, recipient, link, time, event_id=uuid.uuid4())
            enqueue(conn, NEWSLETTER_DELIVERIES, event)
        _audit(newsletter, conn, editor.account_id, "issue.tested", issue)
    return email, list(mails)


def find_issue(newsletter: Newsletter, issue_id: UUID) -> IssueView | None:
    """The issue with its figures, both as they stood at one moment."""
    with newsletter.pool.connection() as conn, one_moment(conn):
        issue = repository.find_issue(conn, issue_id)
        if issue is None:
            return None
        return IssueView(issue, repository.figures(conn, [issue])[issue.id])


def list_issues(newsletter: Newsletter, page: int, per_page: int) -> tuple[list[IssueView], int]:
    """A page of the issues, newest first, with their figures; and how many issues there are: all
    three as they stood at one moment."""
    with newsletter.pool.connection() as conn, one_moment(conn):
        issues = repository.issues_page(conn, offset(page, per_page), per_page)
        counted = repository.figures(conn, issues)
        total = repository.count_issues(conn)
    return [IssueView(issue, counted[issue.id]) for issue in issues], total


def _why_not(conn: psycopg.Connection, issue_id: UUID) -> Exception:
    """Why a conditional change left the issue alone: gone, a status that refuses it, else (a draft
    still) the copy the editor read was no longer the issue's."""
    issue = repository.find_issue(conn, issue_id)
    if issue is None:
        return IssueNotFound()
    return IssueChanged() if issue.status == "draft" else WrongStatus(issue.status)


def _audit(
    newsletter: Newsletter,
    conn: psycopg.Connection,
    editor: UUID | None,
    action: str,
    issue: Issue,
    outcome: str = "ok",
) -> None:
    subject = issue.subjects.get("en") or issue.subjects.get("fr") or ""
    record_action(
        conn,
        source=SOURCE,
        actor_account_id=editor,
        action=action,
        target=f"issue {issue.id}: {subject}"[:512],
        outcome=outcome,
    )


def _check_record_size(newsletter: Newsletter, issue: Issue) -> None:
    """Refuse now an issue whose records Kafka would refuse later, stalling the fan-out."""
    for language, mail in issue.rendered(newsletter.settings.portal_url).items():
        recipient = Recipient(0, uuid.uuid4(), LONGEST_EMAIL, language)
        link = unsubscribe_url(newsletter.settings.portal_url, "x" * 66, recipient)
        record = delivery_request(issue.id, mail, recipient, link, datetime.now(UTC).isoformat())
        if len(record.to_json().encode()) > MAX_VALUE_BYTES:
            raise IssueTooLarge()


def preview(subjects: dict[str, str], bodies: dict[str, str]) -> dict[str, Rendered]:
    """Each language as it will be mailed, without storing anything (the console's live preview)."""
    draft = Issue(uuid.uuid4(), "draft", subjects, bodies, None, None, datetime.now(UTC), None, None)
    return {language: mail for language, mail in draft.rendered().items() if language in LANGUAGES}
