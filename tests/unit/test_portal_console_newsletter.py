"""The console's Newsletter pages (newsletter editors) with fakes of the newsletter behind them."""

import re

from tests.unit.test_portal import UPLOAD, EditorIdentity, PastTimeIssue, csrf_token, staff_client


def send_at_field(page: str) -> str:
    found = re.search(r'<input id="send_at"[^>]*>', page)
    assert found, "the page has no send_at field"
    return found.group(0)


def test_a_refused_send_time_is_kept_in_its_field_to_correct():
    client = staff_client(EditorIdentity(), issues=PastTimeIssue())
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    for typed in ("2020-01-01T09:00", "next tuesday"):
        refused = client.post(
            f"/console/newsletter/{UPLOAD}/send", data={"csrf_token": token, "send_at": typed}
        )
        assert refused.status_code == 400
        assert f'value="{typed}"' in send_at_field(refused.text)
