"""SQL of the newsletter's subscribers and issues."""

from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from newsletter.domain.issues import Figures, Issue, Recipient

ISSUE_COLUMNS = """id, status, subjects, bodies, editor_id, send_at, created_at, started_at, completed_at,
                   last_subscriber_id, total, high_water, requested, updated_at, held_because"""


def subscribed_since(conn: psycopg.Connection, account_id: UUID) -> datetime | None:
    """When the account subscribed; None when it is not subscribed."""
    row = conn.execute(
        "SELECT subscribed_at FROM subscribers WHERE account_id = %s", (account_id,)
    ).fetchone()
    return None if row is None else row[0]


def add_subscriber(conn: psycopg.Connection, account_id: UUID) -> datetime | None:
    """Subscribe the account, with the id of its last subscription if it had one (see
    next_recipients); its subscription time, or None when it already was subscribed."""
    row = conn.execute(
        """INSERT INTO subscribers (id, account_id)
           VALUES (coalesce((SELECT subscriber_id FROM subscription_endings WHERE account_id = %(account)s),
                            nextval(pg_get_serial_sequence('subscribers', 'id'))),
                   %(account)s)
           ON CONFLICT (account_id) DO NOTHING RETURNING subscribed_at""",
        {"account": account_id},
    ).fetchone()
    return None if row is None else row[0]


def remove_subscriber(
    conn: psycopg.Connection, account_id: UUID, started_by: datetime | None = None
) -> int | None:
    """Unsubscribe the account (with `started_by`, only from a subscription that started by then);
    the subscriber id it had, None when no subscription was removed."""
    row = conn.execute(
        """DELETE FROM subscribers
           WHERE account_id = %s AND subscribed_at <= coalesce(%s::timestamptz, subscribed_at)
           RETURNING id""",
        (account_id, started_by),
    ).fetchone()
    return None if row is None else int(row[0])


def insert_issue(
    conn: psycopg.Connection,
    issue_id: UUID,
    subjects: dict[str, str],
    bodies: dict[str, str],
    editor: UUID | None,
) -> Issue:
    """Record a draft."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        issue = cursor.execute(
            f"""INSERT INTO issues (id, subjects, bodies, editor_id) VALUES (%s, %s, %s, %s)
                RETURNING {ISSUE_COLUMNS}""",
            (issue_id, Jsonb(subjects), Jsonb(bodies), editor),
        ).fetchone()
    assert issue is not None
    return issue


def open_new_videos_draft(conn: psycopg.Connection) -> Issue | None:
    """The open "New videos" draft, locked until the transaction ends; None when there is none."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"""SELECT {ISSUE_COLUMNS} FROM issues WHERE origin = 'new_videos' AND status = 'draft'
                FOR UPDATE"""
        ).fetchone()


def insert_new_videos_draft(
    conn: psycopg.Connection, issue_id: UUID, subjects: dict[str, str], bodies: dict[str, str]
) -> None:
    """Open a "New videos" draft unless one is open (another worker's, committed meanwhile)."""
    conn.execute(
        """INSERT INTO issues (id, subjects, bodies, origin) VALUES (%s, %s, %s, 'new_videos')
           ON CONFLICT (origin) WHERE origin = 'new_videos' AND status = 'draft' DO NOTHING""",
        (issue_id, Jsonb(subjects), Jsonb(bodies)),
    )


def update_draft(
    conn: psycopg.Connection,
    issue_id: UUID,
    subjects: dict[str, str],
    bodies: dict[str, str],
    *,
    read: datetime | None = None,
) -> Issue | None:
    """Replace a draft's texts (with `read`, only while its updated_at is still that); None when the
    issue is not a draft, was edited since `read`, or does not exist."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"""UPDATE issues SET subjects = %s, bodies = %s, updated_at = now()
                WHERE id = %s AND status = 'draft' AND updated_at = coalesce(%s::timestamptz, updated_at)
                RETURNING {ISSUE_COLUMNS}""",
            (Jsonb(subjects), Jsonb(bodies), issue_id, read),
        ).fetchone()


def find_issue(conn: psycopg.Connection, issue_id: UUID, *, lock: bool = False) -> Issue | None:
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"SELECT {ISSUE_COLUMNS} FROM issues WHERE id = %s" + (" FOR UPDATE" if lock else ""), (issue_id,)
        ).fetchone()


def issues_page(conn: psycopg.Connection, offset: int, limit: int) -> list[Issue]:
    """`limit` issues after the `offset` newest, newest first (the id orders those created together)."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"SELECT {ISSUE_COLUMNS} FROM issues ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            (limit, offset),
        ).fetchall()


def count_issues(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM issues").fetchone()
    assert row is not None
    return int(row[0])


# Counting the recipients when the issue starts: every current subscriber, up to the newest id.
START_SENDING = f"""UPDATE issues SET status = 'sending', started_at = now(), updated_at = now(),
        held_because = NULL,
        last_subscriber_id = (SELECT coalesce(max(id), 0) FROM subscribers),
        total = (SELECT count(*) FROM subscribers)
    WHERE id = %s AND status = %s RETURNING {ISSUE_COLUMNS}"""


def start_sending(conn: psycopg.Connection, issue_id: UUID, current_status: str) -> Issue | None:
    """Start the issue now if it is still `current_status`; None when it no longer is (cancelled,
    started by another worker)."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(START_SENDING, (issue_id, current_status)).fetchone()


def schedule(
    conn: psycopg.Connection, issue_id: UUID, send_at: datetime, editor: UUID, token_issued_at: datetime
) -> Issue | None:
    """Schedule a draft in the name of `editor` (its start is audited as theirs), on the authority of
    their token issued at `token_issued_at`; None when it is not a draft."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"""UPDATE issues SET status = 'scheduled', send_at = %s, editor_id = %s, updated_at = now(),
                    held_because = NULL, scheduled_on_token_of = %s
                WHERE id = %s AND status = 'draft' RETURNING {ISSUE_COLUMNS}""",
            (send_at, editor, token_issued_at, issue_id),
        ).fetchone()


def hold_scheduled_by(
    conn: psycopg.Connection, editor: UUID, because: str, revoked_before: datetime | None
) -> list[Issue]:
    """The issues `editor` scheduled that have not started, back to draft `because` (HELD_BECAUSE):
    those scheduled on a token issued before `revoked_before` (the tokens a revocation kills, as
    account_projection.is_revoked reads them), every one when it is None (the account deleted). One
    scheduled on a later token (a role granted again and a new login, the event handled late) stays.
    A "New videos" issue among them becomes an ordinary draft: the worker's open one (if any) stays
    the one it adds to, as it would after the issue went."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            # Scheduled before migration 012: its updated_at (when it was scheduled) stands in.
            f"""UPDATE issues SET status = 'draft', send_at = NULL, held_because = %(because)s,
                    origin = NULL, updated_at = now()
                WHERE editor_id = %(editor)s AND status = 'scheduled'
                    AND (%(before)s::timestamptz IS NULL
                         OR coalesce(scheduled_on_token_of, updated_at) < %(before)s::timestamptz)
                RETURNING {ISSUE_COLUMNS}""",
            {"because": because, "editor": editor, "before": revoked_before},
        ).fetchall()


def cancel(conn: psycopg.Connection, issue_id: UUID) -> Issue | None:
    """Cancel a draft or a scheduled issue; None when it is neither (it went, or was cancelled)."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"""UPDATE issues SET status = 'cancelled', updated_at = now()
                WHERE id = %s AND status IN ('draft', 'scheduled') RETURNING {ISSUE_COLUMNS}""",
            (issue_id,),
        ).fetchone()


def next_due_issue(conn: psycopg.Connection) -> Issue | None:
    """The issue to fan out next: one sending (a restart resumes it), else the scheduled one due first."""
    with conn.cursor(row_factory=class_row(Issue)) as cursor:
        return cursor.execute(
            f"""SELECT {ISSUE_COLUMNS} FROM issues
                WHERE status = 'sending' OR (status = 'scheduled' AND send_at <= now())
                ORDER BY status = 'sending' DESC, coalesce(send_at, created_at) LIMIT 1"""
        ).fetchone()


def next_recipients(conn: psycopg.Connection, issue: Issue, after: int, limit: int) -> list[Recipient]:
    """The issue's next subscribers after subscriber id `after`, in id order (keyset pagination): those
    subscribed when it started and still now, at their turn. A subscriber keeps their id across a new
    subscription, so one who left and came back since the start is read (once, at their place); one who
    came back after it started, having left before, had no subscription then: their last one ended
    before the start, and they are not."""
    with conn.cursor(row_factory=class_row(Recipient)) as cursor:
        return cursor.execute(
            """SELECT s.id AS subscriber_id, s.account_id, k.email, k.locale, s.subscribed_at
               FROM subscribers s JOIN known_accounts k ON k.account_id = s.account_id
               LEFT JOIN subscription_endings e ON e.account_id = s.account_id
               WHERE s.id > %(after)s AND s.id <= %(bound)s
                 AND (s.subscribed_at <= %(started)s OR e.ended_at >= %(started)s)
               ORDER BY s.id LIMIT %(limit)s""",
            {"after": after, "bound": issue.last_subscriber_id, "started": issue.started_at, "limit": limit},
        ).fetchall()


def add_recipients(
    conn: psycopg.Connection, issue_id: UUID, deliveries: list[tuple[UUID, UUID]]
) -> set[UUID]:
    """Record a batch's (delivery id, account id) pairs before they are requested, for the accounts
    still subscribed; those accounts. A replay adds nothing. In the caller's transaction: their
    subscriptions are locked until it ends, so an account's deletion handled meanwhile either came first
    (the account is left out) or waits, then takes its id out of the rows recorded here."""
    accounts = [account for _, account in deliveries]
    present = conn.execute(
        "SELECT account_id FROM subscribers WHERE account_id = ANY(%s::uuid[]) ORDER BY id FOR SHARE",
        (accounts,),
    ).fetchall()
    still = {account for (account,) in present}
    kept = [(delivery, account) for delivery, account in deliveries if account in still]
    conn.execute(
        """INSERT INTO issue_recipients (delivery_id, issue_id, account_id)
           SELECT delivery, %s, account FROM unnest(%s::uuid[], %s::uuid[]) AS batch (delivery, account)
           ON CONFLICT (delivery_id) DO NOTHING""",
        (issue_id, [d for d, _ in kept], [a for _, a in kept]),
    )
    return still


def record_progress(conn: psycopg.Connection, issue_id: UUID, high_water: int, requested: int) -> None:
    """Kafka acknowledged the batch up to `high_water`: a restart resumes after it."""
    conn.execute(
        "UPDATE issues SET high_water = %s, requested = requested + %s WHERE id = %s",
        (high_water, requested, issue_id),
    )


def complete_issue(conn: psycopg.Connection, issue_id: UUID) -> None:
    conn.execute(
        "UPDATE issues SET status = 'sent', completed_at = now(), updated_at = now() WHERE id = %s",
        (issue_id,),
    )


# A bounce outranks a delivery (a DSN may follow the server's acceptance), which outranks a failure
# (a dead letter replayed by support may yet be sent; nothing fails for good after its acceptance).
OUTCOME_RANK = "CASE {} WHEN 'bounced' THEN 3 WHEN 'sent' THEN 2 WHEN 'failed' THEN 1 ELSE 0 END"


def record_outcome(conn: psycopg.Connection, delivery_id: UUID, outcome: str) -> UUID | None:
    """Note what became of one delivery (never downgraded); the issue's id, None for a delivery that
    is no issue's (a test send, another deployment's)."""
    row = conn.execute(
        f"""UPDATE issue_recipients SET outcome = %(outcome)s, updated_at = now()
            WHERE delivery_id = %(delivery)s
              AND {OUTCOME_RANK.format("outcome")} < {OUTCOME_RANK.format("%(outcome)s::text")}
            RETURNING issue_id""",
        {"outcome": outcome, "delivery": delivery_id},
    ).fetchone()
    return None if row is None else row[0]


def record_outcomes(conn: psycopg.Connection, delivery_ids: list[UUID], outcome: str) -> None:
    """Note the same outcome of many deliveries in one statement (never downgraded)."""
    conn.execute(
        f"""UPDATE issue_recipients SET outcome = %(outcome)s, updated_at = now()
            FROM unnest(%(deliveries)s::uuid[]) AS reported (delivery_id)
            WHERE issue_recipients.delivery_id = reported.delivery_id
              AND {OUTCOME_RANK.format("outcome")} < {OUTCOME_RANK.format("%(outcome)s::text")}""",
        {"outcome": outcome, "deliveries": delivery_ids},
    )


# The figures of a list of issues: the tallies kept on each (migrations 006 and 009).
FIGURES = """SELECT id, recipients, sent, failed, bounced, unsubscribed FROM issues WHERE id = ANY(%s)"""


def figures(conn: psycopg.Connection, issues: list[Issue]) -> dict[UUID, Figures]:
    """The figures of these issues, in one query. The recipients are the requests recorded, kept with
    their outcomes: a batch's rows are written before it goes to Kafka (`requested` grows once Kafka
    acknowledged it), and the mailer may report a delivery in between."""
    rows = conn.execute(FIGURES, ([issue.id for issue in issues],)).fetchall()
    counted = {row[0]: row[1:] for row in rows}
    return {issue.id: Figures(*counted.get(issue.id, ())) for issue in issues}


def record_ending(conn: psycopg.Connection, account_id: UUID, reason: str, subscriber_id: int) -> None:
    """Why and when the account's subscription ended, and its subscriber id (a new one takes it back). An
    ending by choice counts on the issue the account left after (a trigger, migration 009)."""
    conn.execute(
        """INSERT INTO subscription_endings (account_id, reason, subscriber_id) VALUES (%s, %s, %s)
           ON CONFLICT (account_id) DO UPDATE
           SET reason = EXCLUDED.reason, ended_at = now(), subscriber_id = EXCLUDED.subscriber_id""",
        (account_id, reason, subscriber_id),
    )


def forget_account(conn: psycopg.Connection, account_id: UUID) -> None:
    """Erase why the account left, after which issues, and which issues went to it (their figures stay:
    migrations 009 and 010)."""
    conn.execute("DELETE FROM subscription_endings WHERE account_id = %s", (account_id,))
    conn.execute("DELETE FROM issue_unsubscriptions WHERE account_id = %s", (account_id,))
    conn.execute("UPDATE issue_recipients SET account_id = NULL WHERE account_id = %s", (account_id,))


def ending_reason(conn: psycopg.Connection, account_id: UUID) -> str | None:
    """Why the account's subscription last ended; None when it never did."""
    row = conn.execute(
        "SELECT reason FROM subscription_endings WHERE account_id = %s", (account_id,)
    ).fetchone()
    return None if row is None else row[0]
