"""The issues' list a page at a time, in-process against PostgreSQL: an editor reaches every issue,
the oldest too (a scheduled one past the newest hundred), newest first and each once."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_newsletter_issues import create, send


def listed(client, editor: dict[str, str], **query: object) -> dict:  # type: ignore[no-untyped-def, type-arg]
    answer = client.get("/v1/issues", query_string=query, headers=editor)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_every_issue_is_reached_page_by_page_newest_first_the_oldest_past_the_newest_hundred(
    newsletter_client, newsletter_editor
):
    scheduled = create(newsletter_client, newsletter_editor)["id"]
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    send(newsletter_client, newsletter_editor, scheduled, send_at=later)
    newer = [create(newsletter_client, newsletter_editor)["id"] for _ in range(100)]
    ours = [*reversed(newer), scheduled]  # newest first

    first = listed(newsletter_client, newsletter_editor)
    total = first["total"]
    assert total >= len(ours) and (first["page"], first["per_page"]) == (1, 20)
    assert [item["id"] for item in first["items"]] == ours[:20]

    walked, last_page = [], -(-total // 40)
    for page in range(1, last_page + 1):
        answer = listed(newsletter_client, newsletter_editor, page=page, per_page=40)
        assert (answer["total"], answer["page"], answer["per_page"]) == (total, page, 40)
        assert len(answer["items"]) == min(40, total - (page - 1) * 40)
        walked += answer["items"]
    assert [item["id"] for item in walked][: len(ours)] == ours
    assert len({item["id"] for item in walked}) == total
    created = [datetime.fromisoformat(item["created_at"]) for item in walked]
    assert created == sorted(created, reverse=True)
    oldest = next(item for item in walked if item["id"] == scheduled)
    assert oldest["status"] == "scheduled"

    past = listed(newsletter_client, newsletter_editor, page=last_page + 1, per_page=40)
    assert (past["items"], past["total"], past["page"]) == ([], total, last_page + 1)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": 10_001}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"order": "oldest"}, "order"),
    ],
)
def test_a_page_out_of_bounds_is_a_422_problem_naming_its_argument(
    newsletter_client, newsletter_editor, query, field
):
    refused = newsletter_client.get("/v1/issues", query_string=query, headers=newsletter_editor)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert field in refused.json["errors"]


def test_the_bounds_themselves_are_accepted(newsletter_client, newsletter_editor):
    farthest = listed(newsletter_client, newsletter_editor, page=10_000, per_page=100)
    assert (farthest["items"], farthest["page"], farthest["per_page"]) == ([], 10_000, 100)
