"""What a page of the issue list costs when the issues went to large lists.

The list answers each issue with its figures (recipients, sent, failed, bounced, unsubscribed). This
fills a fresh database with ISSUES sent issues of RECIPIENTS recipients each (outcomes mixed: most
sent, some failed or bounced, none yet for a tenth; one recipient in fifty left by their own choice
after the last), then times the list's statements for one page of 20, in process, the median
of REPEATS after a warm-up, and prints the plan of the figures' query (EXPLAIN ANALYZE).
Run: `make bench BENCH=newsletter_issue_list` (or `.venv/bin/python -m bench.newsletter_issue_list
[ISSUES] [RECIPIENTS]` with the infrastructure up).
"""

import statistics
import sys
import time
import uuid

import psycopg

from accounts_common.db import COMMON_MIGRATIONS, migrate
from bench.support import BenchDatabases, infra_env
from newsletter.adapters import repository
from newsletter.migrations import NEWSLETTER_MIGRATIONS

PAGE = 20
REPEATS = 20


def fill(database_url: str, issues: int, recipients: int) -> None:
    """`issues` sent issues, each to `recipients` accounts of one shared list, with their outcomes."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(issues):
            issue = uuid.uuid4()
            conn.execute(
                """INSERT INTO issues (id, status, subjects, bodies, started_at, completed_at, requested)
                   VALUES (%s, 'sent', '{"en": "x", "fr": "x"}', '{"en": "x", "fr": "x"}',
                           now() - interval '1 hour', now(), %s)""",
                (issue, recipients),
            )
            conn.execute(
                """INSERT INTO issue_recipients (delivery_id, issue_id, account_id, outcome, updated_at)
                   SELECT gen_random_uuid(), %s, md5(n::text)::uuid,
                          CASE WHEN n %% 10 = 0 THEN NULL WHEN n %% 50 = 1 THEN 'bounced'
                               WHEN n %% 25 = 2 THEN 'failed' ELSE 'sent' END, now()
                   FROM generate_series(1, %s) AS n""",
                (issue, recipients),
            )
        conn.execute(  # each counted on the last issue as it is written (migration 009)
            """INSERT INTO subscription_endings (account_id, reason, ended_at)
               SELECT md5(n::text)::uuid, 'user', now()
               FROM generate_series(1, %s, 50) AS n""",
            (recipients,),
        )
        conn.execute("VACUUM ANALYZE")


def list_page(conn: psycopg.Connection) -> None:
    """The statements of GET /v1/issues (first page of 20)."""
    page = repository.issues_page(conn, 0, PAGE)
    repository.figures(conn, page)
    repository.count_issues(conn)


def main() -> None:
    issues = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    recipients = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    databases = BenchDatabases(infra_env()["DATABASE_URL"])
    try:
        url = databases.create("newsletter_list")
        migrate(url, COMMON_MIGRATIONS, NEWSLETTER_MIGRATIONS)
        started = time.perf_counter()
        fill(url, issues, recipients)
        print(f"{issues} issues x {recipients:,} recipients written in {time.perf_counter() - started:.1f} s")
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(3):
                list_page(conn)
            timings = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                list_page(conn)
                timings.append((time.perf_counter() - started) * 1000)
            page = repository.issues_page(conn, 0, PAGE)
            median, worst = statistics.median(timings), max(timings)
            print(f"a page of {len(page)}: median {median:.1f} ms, max {worst:.1f} ms")
            plan = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + repository.FIGURES, ([issue.id for issue in page],)
            ).fetchall()
            print("\n".join(line for (line,) in plan))
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()
