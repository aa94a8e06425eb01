"""The console's Audit page (admins) with a fake of identity's audit trail behind it."""

import re

import pytest

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
    """An audit trail longer than one answer holds: identity answers as many entries as asked for."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def audit(self, token: str, filters: dict[str, str]) -> list[dict[str, object]]:
        self.asked.append(filters)
        return [self.ENTRY] * int(filters.get("limit", 100))


@pytest.mark.parametrize(("language", "said"), [("en", "Only the newest 100"), ("fr", "Seules les 100")])
def test_a_trail_longer_than_the_page_says_only_the_newest_are_shown(language, said):
    trail = LongTrail()
    client = staff_client(AdminIdentity(), staff=trail)
    page = client.get("/console/audit", headers={"Accept-Language": language})
    assert page.status_code == 200 and page.text.count('<tr data-action="staff.role-granted">') == 100
    assert said in page.text and trail.asked[0]["limit"] == "100"


def test_a_short_trail_is_shown_whole_without_a_word_about_older_actions():
    page = staff_client(AdminIdentity(), staff=FakeStaffDirectory()).get("/console/audit")
    assert page.status_code == 200 and "Only the newest" not in page.text


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
