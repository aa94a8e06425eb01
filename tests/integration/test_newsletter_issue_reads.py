"""Reading issues while they change, in-process against PostgreSQL: an issue's status and its figures,
and a page of issues and their count, are each one moment of the issues, never a part from before a
commit and a part from after it."""

import uuid

from newsletter.adapters import repository
from newsletter.service_layer import issues
from tests.support.moments import answers_while


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

    assert answers_while(complete_and_start_again, status_and_sent) == {
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
    assert answers_while(add_and_remove, first_and_total) == {
        (newest_before, total_before),
        (newest, total_before + 1),
    }
