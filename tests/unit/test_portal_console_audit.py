"""The console's Audit page (admins) with a fake of identity's audit trail behind it."""

import html
import re
from urllib.parse import parse_qsl

import pytest

from accounts_common.inputguard import DATE_OUT_OF_RANGE, MAX_YEAR, MIN_YEAR
from portal.adapters.http import ApiError
from tests.unit.test_portal import AdminIdentity, FakeStaffDirectory, staff_client


@pytest.mark.parametrize(
    ("language", "shown"),
    [("en", "December 1, 2026, 9:00:00 AM UTC"), ("fr", "1 décembre 2026, 09:00:00 TU")],
)
def test_the_time_of_an_action_names_its_zone_in_the_pages_language(language, shown):
    client = staff_client(AdminIdentity(), staff=FakeStaffDirectory())
    page = client.get("/console/audit", headers={"Accept-Language": language})
    assert page.status_code == 200
    when = re.search(r'<tr data-action="staff.role-granted">\s*<td>(.*?)</td>', page.text)
    assert when and when.group(1).replace("\u202f", " ") == shown


class LongTrail(FakeStaffDirectory):
    """identity's GET /v1/audit over a trail of 250 actions, newest first: `per_page` a page (100 unless
    asked), standing at `as_of` 250 unless asked, the filters' names recorded; and its 422 past page
    10,000."""

    def __init__(self) -> None:
        self.asked: list[dict[str, object]] = []

    def audit(self, token: str, filters: dict[str, str], page: int = 1) -> dict[str, object]:
        self.asked.append({**filters, "page": page})
        if page > 10_000:
            raise ApiError(422, "validation-error", errors={"page": ["Must be between 1 and 10000."]})
        every = [{**self.ENTRY, "target": f"video {n}"} for n in range(250)]
        items = every[(page - 1) * 100 : page * 100]
        as_of = int(filters.get("as_of", len(every)))
        return {"items": items, "total": len(every), "page": page, "per_page": 100, "as_of": as_of}


def page_links(page: str) -> dict[str, dict[str, str]]:
    """The page's Previous/Next links (by their words), each as its query's arguments."""
    found = re.findall(r'<a href="/console/audit\?([^"]*)">([^<]+)</a>', page)
    return {words: dict(parse_qsl(html.unescape(query))) for query, words in found}


def test_a_trail_longer_than_a_page_is_read_page_by_page_with_its_filters_kept():
    trail = LongTrail()
    client = staff_client(AdminIdentity(), staff=trail)
    filters = {"actor": "ed@example.org", "action": "video.edited", "from": "2026-12-01", "to": "2026-12-04"}
    second = client.get("/console/audit", query_string={**filters, "page": 2})
    assert second.status_code == 200 and "Page 2 of 3" in second.text
    assert second.text.count('<tr data-action="staff.role-granted">') == 100
    assert "video 100<" in second.text and "video 199<" in second.text and "video 200<" not in second.text
    assert page_links(second.text) == {
        "Previous page": {**filters, "page": "1", "as_of": "250"},
        "Next page": {**filters, "page": "3", "as_of": "250"},
    }
    asked = {"actor": "ed@example.org", "action": "video.edited",
             "since": "2026-12-01T00:00:00Z", "until": "2026-12-05T00:00:00Z", "page": 2}  # fmt: skip
    assert trail.asked == [asked]


def test_the_page_links_leave_out_the_filters_left_empty_and_the_last_page_has_no_next():
    client = staff_client(AdminIdentity(), staff=LongTrail())
    first = client.get("/console/audit?actor=&action=video.edited")
    assert page_links(first.text) == {"Next page": {"action": "video.edited", "page": "2", "as_of": "250"}}
    last = client.get("/console/audit?page=3")
    assert last.status_code == 200 and "Page 3 of 3" in last.text
    assert page_links(last.text) == {"Previous page": {"page": "2", "as_of": "250"}}
    assert last.text.count('<tr data-action="staff.role-granted">') == 50


def test_the_pages_after_the_first_list_the_trail_as_it_stood_then():
    """The first page's answer says where the trail stood (`as_of`); its links carry it, so that actions
    recorded meanwhile, reading the page among them, neither repeat an entry on page 2 nor hide one."""
    trail = LongTrail()
    client = staff_client(AdminIdentity(), staff=trail)
    second = client.get("/console/audit", query_string={"page": 2, "as_of": 240})
    assert page_links(second.text) == {
        "Previous page": {"page": "1", "as_of": "240"},
        "Next page": {"page": "3", "as_of": "240"},
    }
    client.get("/console/audit", query_string={"page": 2, "as_of": "latest"})  # not one: a fresh listing
    client.get("/console/audit", query_string={"page": 2, "as_of": "9" * 40})
    assert [asked.get("as_of") for asked in trail.asked] == ["240", None, None]


def test_the_first_page_always_lists_the_newest_actions():
    """A link to page 1 with an old `as_of` (a bookmark, or one someone sent) must not hide what
    happened since: page 1 starts a listing."""
    trail = LongTrail()
    client = staff_client(AdminIdentity(), staff=trail)
    first = client.get("/console/audit", query_string={"as_of": 3, "action": "video.edited"})
    assert first.status_code == 200 and trail.asked[-1] == {"actor": "", "action": "video.edited", "page": 1}
    assert page_links(first.text)["Next page"]["as_of"] == "250"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Previous page", "Page 2 of 3", "Next page"]),
        ("fr", ["Page précédente", "Page 2 sur 3", "Page suivante"]),
    ],
)
def test_the_pages_of_the_trail_are_named_in_the_pages_language(language, words):
    page = staff_client(AdminIdentity(), staff=LongTrail()).get(
        "/console/audit?page=2", headers={"Accept-Language": language}
    )
    assert all(word in page.text for word in words)


@pytest.mark.parametrize("page", ["4", "10001"])
def test_a_page_past_the_last_is_not_found_with_a_way_back_to_the_first(page):
    answer = staff_client(AdminIdentity(), staff=LongTrail()).get(
        f"/console/audit?page={page}&actor=ed@example.org"
    )
    assert answer.status_code == 404
    assert "This page of the list does not exist." in answer.text
    assert "<tr data-action" not in answer.text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_no_page_asks_to_narrow_the_search_any_more(language):
    """Every action can be reached page by page: the filters are for finding, not a way round a limit."""
    page = staff_client(AdminIdentity(), staff=LongTrail()).get(
        "/console/audit", headers={"Accept-Language": language}
    )
    assert page.status_code == 200 and "data-audit-truncated" not in page.text
    assert "Only the newest" not in page.text and "Seules les" not in page.text


def test_a_short_trail_is_shown_whole_on_one_page():
    page = staff_client(AdminIdentity(), staff=FakeStaffDirectory()).get("/console/audit")
    assert page.status_code == 200 and "Page 1 of" not in page.text and 'class="pages"' not in page.text


@pytest.mark.parametrize(
    ("language", "labels"),
    [("en", ["From (day, UTC)", "To (day, UTC)"]), ("fr", ["Du (jour, TU)", "Au (jour, TU)"])],
)
def test_the_day_filters_say_their_days_are_utc_days(language, labels):
    """The trail's times are shown in UTC, and a day searched runs from 00:00 UTC: an admin west or east
    of it would otherwise miss the actions near midnight."""
    page = staff_client(AdminIdentity(), staff=FakeStaffDirectory()).get(
        "/console/audit", headers={"Accept-Language": language}
    )
    shown = [re.search(rf'<label for="{name}">(.*?)</label>', page.text) for name in ("from", "to")]
    assert [label.group(1) if label else None for label in shown] == labels


class GuardedTrail(FakeStaffDirectory):
    """identity's GET /v1/audit behind its input guard: a bound out of the years the services take is
    refused (422) with the guard's words; the filters asked for are recorded."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def audit(self, token: str, filters: dict[str, str], page: int = 1) -> dict[str, object]:
        self.asked.append(filters)
        refused = {key: [DATE_OUT_OF_RANGE] for key in ("since", "until")
                   if key in filters and not MIN_YEAR <= int(filters[key][:4]) <= MAX_YEAR}  # fmt: skip
        if refused:
            raise ApiError(422, "validation-error", errors=refused)
        return super().audit(token, filters, page)


@pytest.mark.parametrize(
    ("query", "field", "language", "said"),
    [
        ("from=0999-01-01", "from", "en", "Enter a date in the years 1000 to 9998."),
        ("from=0999-01-01", "from", "fr", "Saisissez une date entre les années 1000 et 9998."),
        ("to=0999-06-01", "to", "en", "Enter a date in the years 1000 to 9998."),
        ("to=9999-06-01", "to", "fr", "Saisissez une date entre les années 1000 et 9998."),
        ("from=9999-06-01&to=2026-12-04", "from", "en", "Enter a date in the years 1000 to 9998."),
    ],
)
def test_a_day_out_of_the_years_the_services_take_is_said_next_to_its_field(query, field, language, said):
    """Not "Check this field and try again.": the admin is told what is wrong with the day."""
    page = staff_client(AdminIdentity(), staff=GuardedTrail()).get(
        f"/console/audit?{query}", headers={"Accept-Language": language}
    )
    assert page.status_code == 400
    errors = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', page.text, re.S)
    assert errors and errors.group(1) == f"<li>{said}</li>"


def test_the_last_day_of_the_services_last_year_lists_the_trail_up_to_its_end():
    """Its day after, the bound asked for, is past the years identity takes: no bound instead."""
    trail = GuardedTrail()
    page = staff_client(AdminIdentity(), staff=trail).get("/console/audit?from=2026-12-01&to=9998-12-31")
    assert page.status_code == 200 and '<tr data-action="staff.role-granted">' in page.text
    assert trail.asked == [{"actor": "", "action": "", "since": "2026-12-01T00:00:00Z"}]
