"""Reading issues while they change, in-process against PostgreSQL: an issue's status and its figures,
and a page of issues and their count, are each one moment of the issues, never a part from before a
commit and a part from after it."""

import threading
import uuid
from collections.abc import Callable

from psycopg_pool import ConnectionPool

from newsletter.adapters import repository
from newsletter.service_layer import issues

READS = 2000


def read_while(pool: ConnectionPool, change: Callable[[], None], read: Callable[[], object]) -> set[object]:
    """What `read` answered, READS times, while another connection made `change` again and again."""
    done = threading.Event()

    def change_again_and_again() -> None:
        while not done.is_set():
            change()

    writer = threading.Thread(target=change_again_and_again)
    writer.start()
    try:
        return {read() for _ in range(READS)}
    finally:
        done.set()
        writer.join()


def test_an_issue_read_while_it_completes_has_the_figures_of_its_status(newsletter, newsletter_pool):
    issue_id = uuid.uuid4()
    with newsletter_pool.connection() as conn:
        repository.insert_issue(conn, issue_id, {"en": "Kestrels"}, {"en": "Hovering."}, None)
        # Sent before the writer starts, or a read before its first change sees the draft.
        conn.execute("UPDATE issues SET status = 'sent', recipients = 1, sent = 1 WHERE id = %s", (issue_id,))

    def complete_and_start_again() -> None:
        with newsletter_pool.connection() as conn:
            for status, sent in (("sending", 0), ("sent", 1)):
                conn.execute(
                    "UPDATE issues SET status = %s, recipients = 1, sent = %s WHERE id = %s",
                    (status, sent, issue_id),
                )

    def status_and_sent() -> tuple[str, int]:
        view = issues.find_issue(newsletter, issue_id)
        assert view is not None
        return view.issue.status, view.figures.sent

    assert read_while(newsletter_pool, complete_and_start_again, status_and_sent) == {
        ("sending", 0),
        ("sent", 1),
    }


def test_a_page_read_while_an_issue_comes_and_goes_is_counted_with_it(newsletter, newsletter_pool):
    with newsletter_pool.connection() as conn:
        repository.insert_issue(conn, uuid.uuid4(), {"en": "Older"}, {"en": "Older."}, None)
        before = issues.list_issues(newsletter, 1, 1)
    newest = uuid.uuid4()

    def add_and_remove() -> None:
        with newsletter_pool.connection() as conn:
            repository.insert_issue(conn, newest, {"en": "Newest"}, {"en": "Newest."}, None)
            conn.execute("DELETE FROM issues WHERE id = %s", (newest,))

    def first_and_total() -> tuple[uuid.UUID, int]:
        page, total = issues.list_issues(newsletter, 1, 1)
        return page[0].issue.id, total

    newest_before, total_before = before[0][0].issue.id, before[1]
    assert read_while(newsletter_pool, add_and_remove, first_and_total) == {
        (newest_before, total_before),
        (newest, total_before + 1),
    }
