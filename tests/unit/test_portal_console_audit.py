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
