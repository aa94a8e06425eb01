"""Every route of the portal (its url_map: a new one is swept too) given what a real client can send
that is odd: arguments of the wrong type or out of range, control characters, invalid UTF-8, path
parameters that are not ids or are huge, forms missing fields, repeated, too long, of another type,
without their CSRF token; anonymously and signed in as staff of every role. The answer is a page in
the visitor's language (French here), never a 500, and nothing is logged as an error.

The services behind are lenient fakes: what the portal does with their refusals is tested with each page."""

import functools
import io
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from accounts_common.roles import Role
from portal.adapters.uploads import TusAnswer
from tests.unit.test_portal import UPLOAD, portal_client

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
WHEN = "2026-12-01T09:00:00+00:00"
VIDEO = {
    "id": UPLOAD,
    "status": "ready",
    "title": {"en": "T", "fr": "T"},
    "description": {"en": "", "fr": ""},
    "renditions": [{"id": UPLOAD, "container": "mp4", "height": 360, "size_bytes": 10}],
    "published_at": None,
    "duration": 3,
    "thumbnail": "http://catalogue.invalid/v1/videos/x/thumbnail",
}
ISSUE = {"id": UPLOAD, "status": "draft", "subject": {"en": "S", "fr": "S"}, "body": {"en": "B", "fr": "B"},
         "figures": {"recipients": 2, "sent": 1, "failed": 0, "bounced": 0, "unsubscribed": 0}}  # fmt: skip


def listed(item: dict[str, Any], page: int, per_page: int = 50) -> dict[str, Any]:
    return {"items": [item] if page == 1 else [], "total": 1, "page": page, "per_page": per_page}


class Identity:
    """Identity accepting everything, for an account holding every staff role (`roles`)."""

    def __init__(self, roles: list[str]) -> None:
        self.roles = roles

    def me(self, token: str) -> dict[str, Any]:
        return {"email": "a@example.org", "roles": self.roles, "second_factor": True, "locale": None}

    def register(self, email: str, password: str, locale: str) -> dict[str, str]:
        return {"email": email, "registration_id": "reg-1"}

    def start_totp(self, token: str, password: str) -> dict[str, str]:
        return {"otpauth_uri": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=y"}

    def confirm_totp(self, token: str, code: str) -> list[str]:
        return ["aaaa-bbbb"]

    def log_in(self, *_: Any) -> str:
        return "a-token"

    verify = verify_password_reset = log_in

    def nothing(self, *_: Any) -> None:
        return None

    resend_code = log_out = delete_account = request_password_reset = complete_password_reset = nothing


class Catalogue:
    def videos(self, query: str, page: int, language: str = "en") -> dict[str, Any]:
        return listed({**VIDEO, "title": "T"}, page, 12)

    def video(self, video_id: str, language: str = "en") -> dict[str, Any]:
        return {**VIDEO, "title": "T", "description": ""}

    def download_link(self, token: str, video_id: str, rendition_id: str) -> str:
        return "http://catalogue.invalid/file"


class Editor:
    def videos(self, token: str, page: int = 1) -> dict[str, Any]:
        return listed(VIDEO, page)

    def video(self, token: str, video_id: str, *_: Any, **__: Any) -> dict[str, Any]:
        return VIDEO

    create = edit = video

    def publish(self, token: str, video_id: str) -> None:
        return None

    withdraw = retry = delete = publish


class Uploads:
    def forward(self, method: str, path: str, token: str, headers: Any, body: Any = None) -> TusAnswer:
        sent = body.read() if body is not None else b""
        # Bytes announced and never sent: the catalogue would wait for them.
        assert headers.get("Content-Length") in (None, str(len(sent))), headers
        return TusAnswer(204, {"Tus-Resumable": "1.0.0"}, b"")


class Newsletter:
    def subscription(self, token: str) -> tuple[bool, None]:
        return True, None

    def genuine(self, *_: Any) -> bool:
        return True

    subscribe = unsubscribe = link_is_genuine = unsubscribe_by_link = genuine


class Issues:
    def list(self, token: str, page: int = 1) -> dict[str, Any]:
        return listed(ISSUE, page)

    def get(self, token: str, *_: Any) -> dict[str, Any]:
        return ISSUE

    create = update = cancel = get

    def preview(self, token: str, texts: Any) -> dict[str, Any]:
        return {}

    def test(self, token: str, issue_id: str) -> dict[str, str]:
        return {"email": "a@example.org"}

    def send(self, token: str, issue_id: str, send_at: str | None) -> dict[str, str]:
        return {"status": "scheduled"}


class Staff:
    def account(self, token: str, email: str) -> dict[str, Any]:
        return {"id": "1", "email": email, "verified": True, "locale": "fr", "roles": [], "created_at": WHEN,
                "mfa_enrolled": False}  # fmt: skip

    def members(self, token: str) -> list[dict[str, Any]]:
        return [{"email": "ed@example.org", "roles": ["support"], "mfa_enrolled": True}]

    def audit(self, token: str, filters: dict[str, str], page: int = 1) -> dict[str, Any]:
        entry = {"at": WHEN, "via": "api", "actor_email": "a@example.org", "action": "staff.role-granted",
                 "target": "x", "outcome": "ok", "source": "/identity"}  # fmt: skip
        return listed(entry, page, 100)

    def done(self, *_: Any, **__: Any) -> bool:
        return True

    resend_code = erase = change_role = done


class Mailer:
    def deliveries(self, token: str, email: str) -> list[dict[str, Any]]:
        return [{"kind": "code", "status": "sent", "attempts": 1, "created_at": WHEN}]

    def dead_letters(self, token: str) -> tuple[list[dict[str, Any]], bool]:
        return [{"partition": 0, "offset": 7, "event_id": "e", "event_type": "CodeIssued", "reason": "550",
                 "failed_at": WHEN}], False  # fmt: skip

    def replay(self, token: str, letter: Any = None) -> int:
        return 1


@functools.cache
def portal() -> Flask:
    """One portal over the fakes (they keep nothing): each test gets a client, a browser, of its own."""
    fakes = {"catalogue": Catalogue(), "editor": Editor(), "uploads": Uploads(), "newsletter": Newsletter(),
             "issues": Issues(), "staff": Staff(), "mailer": Mailer()}  # fmt: skip
    return portal_client(
        Identity([role.value for role in Role]), config={"TESTING": False}, fakes=fakes
    ).application


def client_as(visitor: str) -> FlaskClient:
    client = portal().test_client()
    if visitor == "staff":
        with client.session_transaction() as session:
            session.update(token="a-token", email="a@example.org", staff=True)
    return client


# What a client may put in a path parameter, a query argument or a form field.
ODD_PATH = ("not-an-id", "9" * 3000, "%FF%00")
ODD_VALUES = ("abc", "-1", "99999999999999999999", "x" * 10_000, "%00", "%FF%ED%A0%80//evil.example")
ARGUMENTS = ("page", "per_page", "q", "email", "next", "reason", "token", "lang", "actor", "action", "from",
             "to")  # fmt: skip
FIELDS = ("email", "password", "code", "totp", "language", "next", "subscribe", "from", "delete_password",
          "reason", "role", "confirmed", "all", "partition", "offset", "subject_en", "subject_fr", "body_en",
          "body_fr", "action", "send_at", "title_en", "title_fr", "description_en", "description_fr",
          "upload", "List-Unsubscribe")  # fmt: skip
RULES = [rule for rule in portal().url_map.iter_rules() if rule.endpoint != "static"]


def addresses(rule: Rule) -> list[str]:
    """The rule's path with fitting parameters, then with each odd value in each of them."""
    fitting = {name: UPLOAD for name in rule.arguments}
    for name, converter in rule._converters.items():
        if hasattr(converter, "items"):  # any(…): one of its words
            fitting[name] = sorted(converter.items)[0]  # type: ignore[attr-defined]
    paths = [fitting] + [{**fitting, name: odd} for name in rule.arguments for odd in ODD_PATH]
    return [
        re.sub(r"<(?:[^>:]+:)?([^>]+)>", lambda m, v=values: v[m.group(1)], rule.rule) for values in paths
    ]


def forms(token: str) -> list[dict[str, Any]]:
    return [
        {},
        {"csrf_token": "forged", "email": "a@example.org"},
        {"csrf_token": token},
        {"csrf_token": token, **dict.fromkeys(FIELDS, "")},
        {"csrf_token": token, **dict.fromkeys(FIELDS, "a\x00b\x01\u202e\r\n")},
        {"csrf_token": token, **dict.fromkeys(FIELDS, "x" * 3000)},  # past the 64 KiB of a form
        {"csrf_token": token, **{name: ["yes", "9" * 30, "2026-13-45T99:99"] for name in FIELDS}},
        {"csrf_token": token, "f": (io.BytesIO(b"\x00\xff"), "a.bin")},
    ]


def answers(client: FlaskClient, rule: Rule, path: str, token: str) -> list[Any]:
    """The rule's answers to odd requests at `path`."""
    got = []
    for method in sorted((rule.methods or set()) - {"OPTIONS"}):
        if method in ("GET", "HEAD"):
            queries = ["", *("&".join(f"{name}={odd}" for name in ARGUMENTS) for odd in ODD_VALUES)]
            got += [client.open(f"{path}?{query}", method=method, headers=FRENCH) for query in queries]
            continue
        headers = {**FRENCH, "X-CSRFToken": token}
        got += [client.open(path, method=method, data=form, headers=headers) for form in forms(token)]
        got.append(client.open(path, method=method, json={"csrf_token": token, "email": []}, headers=headers))
        got.append(client.open(path, method=method, data=b"\xff\xfe%%", headers=headers,
                               content_type="application/x-www-form-urlencoded"))  # fmt: skip
    return got


@pytest.mark.parametrize("visitor", ["anonymous", "staff"])
@pytest.mark.parametrize("rule", RULES, ids=[f"{sorted(r.methods or [])} {r.rule}" for r in RULES])
def test_odd_input_is_answered_with_a_page_in_the_visitors_language_never_a_500(rule, visitor, caplog):
    client = client_as(visitor)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signup").text).group(1)  # type: ignore[union-attr]
    caplog.set_level(logging.ERROR)
    operations = rule.rule in ("/healthz", "/readyz", "/metrics", "/openapi.json")
    for path in addresses(rule):
        for answer in answers(client, rule, path, token):
            asked = f"{answer.request.method} {answer.request.full_path[:120]}"
            assert answer.status_code < 500, asked
            if operations:
                assert answer.status_code < 400 or answer.mimetype == "application/problem+json", asked
            elif answer.status_code not in (301, 302, 303, 308):  # a browser shows these
                assert not re.search(r'<html lang="?en', answer.text), asked
    assert [record.getMessage() for record in caplog.records] == []
