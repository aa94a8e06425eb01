"""SQL of the newsletter's subscribers and issues."""

from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from newsletter.domain.issues import Issue, Recipient

ISSUE_COLUMNS = """id, subject, text_body, html_body, created_at, last_subscriber_id, total,
                   high_water, requested, completed_at"""


def subscribed_since(conn: psycopg.Connection, account_id: UUID) -> datetime | None:
    """When the account subscribed; None when it is not subscribed."""
    row = conn.execute(
        "SELECT subscribed_at FROM subscribers WHERE account_id = %s", (account_id,)
    ).fetchone()
    return None if row is None else row[0]


def add_subscriber(conn: psycopg.Connection, account_id: UUID) -> datetime | None:
    """Subscribe the account; its subscription time, or None when it already was subscribed."""
    row = conn.execute(
        """INSERT INTO subscribers (account_id) VALUES (%s)
           ON CONFLICT (account_id) DO NOTHING RETURNING subscribed_at""",
        (account_id,),
    ).fetchone()
    return None if row is None else row[0]


def remove_subscriber(conn: psycopg.Connection, account_id: UUID) -> bool:
    """Unsubscribe the account; False when it was not subscribed."""
    row = conn.execute("DELETE FROM subscribers WHERE account_id = %s RETURNING 1", (account_id,)).fetchone()
    return row is not None


def insert_issue(conn: psycopg.Connection, issue_id: UUID, subject: str, text: str, html: str) -> Issue:
    """Record an issue for every current subscriber (up to the newest id, counted in one snapshot)."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        issue = cursor.execute(
            f"""INSERT INTO issues (id, subject, text_body, html_body, last_subscriber_id, total)
                SELECT %s, %s, %s, %s, coalesce(max(id), 0), count(*) FROM subscribers
                RETURNING {ISSUE_COLUMNS}""",
            (issue_id, subject, text, html),
        ).fetchone()
    assert issue is not None
    return issue


def find_issue(conn: psycopg.Connection, issue_id: UUID) -> Issue | None:
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(f"SELECT {ISSUE_COLUMNS} FROM issues WHERE id = %s", (issue_id,)).fetchone()


def oldest_unfinished_issue(conn: psycopg.Connection) -> Issue | None:
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"""SELECT {ISSUE_COLUMNS} FROM issues WHERE completed_at IS NULL
                ORDER BY created_at LIMIT 1"""
        ).fetchone()


def next_recipients(conn: psycopg.Connection, issue: Issue, after: int, limit: int) -> list[Recipient]:
    """The issue's next subscribers after subscriber id `after`, in id order (keyset pagination)."""
    with conn.cursor(row_factory=class_row(Recipient)) as cursor:
        return cursor.execute(
            """SELECT s.id AS subscriber_id, s.account_id, k.email, k.locale
               FROM subscribers s JOIN known_accounts k ON k.account_id = s.account_id
               WHERE s.id > %s AND s.id <= %s ORDER BY s.id LIMIT %s""",
            (after, issue.last_subscriber_id, limit),
        ).fetchall()


def record_progress(conn: psycopg.Connection, issue_id: UUID, high_water: int, requested: int) -> None:
    """Kafka acknowledged the batch up to `high_water`: a restart resumes after it."""
    conn.execute(
        "UPDATE issues SET high_water = %s, requested = requested + %s WHERE id = %s",
        (high_water, requested, issue_id),
    )


def complete_issue(conn: psycopg.Connection, issue_id: UUID) -> None:
    conn.execute("UPDATE issues SET completed_at = now() WHERE id = %s", (issue_id,))
