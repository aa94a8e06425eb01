"""A sign-up or a password reset started again in another tab, for another email: the first tab's code
page, whose code was mailed to the first email, is not sent to identity against the second one (a
wrong code counted against that email's attempts); it says which email the code now goes to."""

import html

import pytest

from tests.unit.test_portal import csrf_token, portal_client
from tests.unit.test_portal_edges import CodeIdentity

FIRST, SECOND = "ana@example.org", "bruno@example.org"  # CodeIdentity's code: 123456, the second's


@pytest.mark.parametrize(
    ("start", "form", "code_page", "resend"),
    [
        ("/signup", {"password": "x"}, "/signup/verify", "/signup/resend"),
        ("/password-reset", {}, "/password-reset/code", "/password-reset/code/resend"),
    ],
)
def test_a_code_page_left_behind_by_a_flow_started_again_for_another_email_says_so(
    start, form, code_page, resend
):
    identity = CodeIdentity()
    client = portal_client(identity, resend_cooldown_s=0)
    token = csrf_token(client, start)
    client.post(start, data={"csrf_token": token, "email": FIRST, **form})
    first_tab = client.get(code_page)
    client.post(start, data={"csrf_token": token, "email": SECOND, **form})  # the other tab

    left_behind = {"csrf_token": token, "email": FIRST, "code": "654321"}  # the code mailed to FIRST
    for path in (code_page, resend):
        answer = client.post(path, data=left_behind, headers={"Accept-Language": "fr"})
        text = html.unescape(answer.text)
        assert answer.status_code == 409
        assert f"Cette page était celle du code envoyé à {FIRST}." in text
        assert f"Saisissez le code envoyé à {SECOND}." in text
    assert [call for call in identity.calls if call[0] in ("code", "resend")] == []
    assert ("reset", SECOND) not in identity.calls[2:]
    assert f'name="email" value="{FIRST}"' in first_tab.text, "what the first tab's forms send"

    answer = client.post(code_page, data={"csrf_token": token, "email": SECOND, "code": "123456"})
    assert answer.status_code == 303, "the page of the flow under way goes on"
