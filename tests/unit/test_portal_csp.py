"""The portal's Content-Security-Policy names the catalogue's public address, and no other site, for
images, previews and where forms may end (Download's redirect); PORTAL_CATALOGUE_PUBLIC_URL says it."""

import pytest

from accounts_common.config import SettingError
from portal.settings import Settings
from tests.unit.test_portal import (
    UPLOAD,
    EditorIdentity,
    PastTimeIssue,
    csrf_token,
    portal_client,
    staff_client,
)

CATALOGUE = "https://videos.example.org"


def directives(policy: str) -> dict[str, list[str]]:
    """{"img-src": ["'self'", …], …} of a Content-Security-Policy header."""
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def origin_read(monkeypatch: pytest.MonkeyPatch, value: str | None) -> str:
    """The origin the portal takes from PORTAL_CATALOGUE_PUBLIC_URL set to `value` (None: unset)."""
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.delenv("PORTAL_CATALOGUE_PUBLIC_URL", raising=False)
    if value is not None:
        monkeypatch.setenv("PORTAL_CATALOGUE_PUBLIC_URL", value)
    return Settings.from_env().catalogue_origin


def test_the_catalogues_public_address_is_read_as_its_origin(monkeypatch):
    values = (None, "https://Videos.Example.org/", "https://videos.example.org:8443/media/v1")
    assert [origin_read(monkeypatch, value) for value in values] == [
        "http://127.0.0.1:8002",
        CATALOGUE,
        "https://videos.example.org:8443",
    ]


@pytest.mark.parametrize("value", ["videos.example.org", "ftp://videos.example.org", "https://", "*"])
def test_a_catalogue_address_a_policy_cannot_name_is_refused_at_start_up(monkeypatch, value):
    with pytest.raises(SettingError, match="PORTAL_CATALOGUE_PUBLIC_URL"):
        origin_read(monkeypatch, value)


@pytest.mark.parametrize("path", ["/", "/videos/42", "/login", "/signup", "/no-such-page"])
def test_images_previews_and_form_targets_are_the_portal_and_the_catalogue_alone(path):
    page = portal_client(config={"TESTING": False}, catalogue_origin=CATALOGUE).get(path)
    policy = directives(page.headers["Content-Security-Policy"])
    for directive in ("img-src", "media-src", "form-action"):
        assert policy[directive] == ["'self'", CATALOGUE], (path, directive)
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]


def test_a_newsletter_issues_preview_shows_the_mails_images_from_anywhere_but_nothing_else_widens():
    """An issue's Markdown may show an image from any site: its preview shows the mail as sent."""
    client = staff_client(EditorIdentity(), issues=PastTimeIssue())
    for page in (client.get("/console/newsletter/new"), client.get(f"/console/newsletter/{UPLOAD}")):
        assert page.status_code == 200
        policy = directives(page.headers["Content-Security-Policy"])
        assert policy["img-src"] == ["'self'", "http://127.0.0.1:8002", "http:", "https:"]
        assert policy["media-src"] == policy["form-action"] == ["'self'", "http://127.0.0.1:8002"]
    issues = directives(client.get("/console/newsletter").headers["Content-Security-Policy"])
    assert issues["img-src"] == ["'self'", "http://127.0.0.1:8002"]


class PicturedIssue(PastTimeIssue):
    """The newsletter's draft, whose mail shows an image from another site."""

    def preview(self, token: str, texts: object) -> dict[str, object]:
        html = '<p><img src="https://photos.example.net/summit.jpg" alt="Summit"></p>'
        return {"en": {"subject": "Summit", "html": html, "text": "Summit"}}


def test_the_page_asking_to_confirm_a_sending_shows_the_mails_images_in_its_preview():
    """The last look before an issue goes to every subscriber is the preview on the confirmation page."""
    client = staff_client(EditorIdentity(), issues=PicturedIssue())
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    asking = client.post(f"/console/newsletter/{UPLOAD}/send", data={"csrf_token": token, "send_at": ""})
    assert asking.status_code == 200 and "https://photos.example.net/summit.jpg" in asking.text
    policy = directives(asking.headers["Content-Security-Policy"])
    assert policy["img-src"] == ["'self'", "http://127.0.0.1:8002", "http:", "https:"]
    assert policy["form-action"] == ["'self'", "http://127.0.0.1:8002"]
