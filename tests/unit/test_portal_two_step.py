"""Setting up two-step verification on the portal, with a fake of identity behind it."""

import base64
import time
import zlib

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import FakeTwoStep, at_two_step


class StrictTwoStep(FakeTwoStep):
    """Identity refusing a code that is not six digits, as its schema does (422 on `code`)."""

    def confirm_totp(self, token: str, code: str) -> list[str]:
        if not (len(code) == 6 and code.isdigit()):
            errors = {"code": ["String does not match expected pattern."]}
            raise ApiError(422, "validation-error", errors=errors)
        return super().confirm_totp(token, code)


@pytest.mark.parametrize(
    ("language", "said", "not_said"),
    [
        ("en", "Enter the six digits your authenticator app shows.", "from the email"),
        ("fr", "Saisissez les six chiffres affichés par votre application d’authentification.", "e-mail"),
    ],
)
def test_a_malformed_code_from_the_app_is_not_said_to_come_from_an_email(language, said, not_said):
    client, token = at_two_step(StrictTwoStep())
    headers = {"Accept-Language": language}
    client.post("/account/two-step", data={"csrf_token": token}, headers=headers)
    refused = client.post(
        "/account/two-step/confirmation", data={"csrf_token": token, "code": "12 34"}, headers=headers
    )
    assert refused.status_code == 400
    assert said in refused.text.replace("&#39;", "'")
    assert not_said not in refused.text


def test_the_first_code_confirms_as_the_app_shows_it_grouped_by_three():
    client, token = at_two_step(StrictTwoStep())
    client.post("/account/two-step", data={"csrf_token": token})
    confirmed = client.post("/account/two-step/confirmation", data={"csrf_token": token, "code": "123 456"})
    assert confirmed.status_code == 200 and "aaaa-bbbb" in confirmed.text


def readable_session(client) -> str:  # type: ignore[no-untyped-def]
    """What anyone holding the portal's session cookie reads in it, without the key: the payload of
    a signed (not encrypted) cookie is only base64, zlib-compressed when that is shorter."""
    value = client.get_cookie("portal_session").value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_the_authenticators_secret_is_never_readable_from_the_session_cookie():
    client, token = at_two_step(StrictTwoStep())
    started = client.post("/account/two-step", data={"csrf_token": token})
    assert started.status_code == 200 and "JBSWY3DPEHPK3PXP" in started.text
    assert "otpauth" not in readable_session(client) and "JBSWY3DPEHPK3PXP" not in readable_session(client)

    wrong = client.post("/account/two-step/confirmation", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400 and "JBSWY3DPEHPK3PXP" in wrong.text, "the same key, shown again"
    assert "otpauth" not in readable_session(client) and "JBSWY3DPEHPK3PXP" not in readable_session(client)
    confirmed = client.post("/account/two-step/confirmation", data={"csrf_token": token, "code": "123456"})
    assert confirmed.status_code == 200 and "aaaa-bbbb" in confirmed.text


def test_a_set_up_left_for_over_an_hour_starts_again(monkeypatch):
    client, token = at_two_step(FakeTwoStep())
    client.post("/account/two-step", data={"csrf_token": token})
    an_hour_later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: an_hour_later)
    stale = client.post("/account/two-step/confirmation", data={"csrf_token": token, "code": "123456"})
    assert stale.status_code == 400 and "Start setting up two-step verification again." in stale.text
    assert "aaaa-bbbb" not in stale.text


def test_an_enrolment_kept_unsealed_by_an_older_portal_is_dropped_not_used():
    client, token = at_two_step(FakeTwoStep())
    with client.session_transaction() as session:
        session["totp_enrolment"] = FakeTwoStep.URI  # as portals before a4ee10b kept it
    confirmed = client.post("/account/two-step/confirmation", data={"csrf_token": token, "code": "123456"})
    assert confirmed.status_code == 400 and "Start setting up two-step verification again." in confirmed.text
    assert "aaaa-bbbb" not in confirmed.text and "JBSWY3DPEHPK3PXP" not in confirmed.text
    with client.session_transaction() as session:
        assert "totp_enrolment" not in session
