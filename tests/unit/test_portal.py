"""The portal without the other services: its rules of navigation and language, its French catalogue,
and pages that stay answers (never a 500) when nothing answers behind them."""

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from accounts_common.config import InsecureKey
from portal.adapters.http import ApiError
from portal.bootstrap import bootstrap
from portal.domain.codes import CodeRequest
from portal.domain.navigation import choose_language, clock_duration, safe_return_path
from portal.entrypoints.app import create_app, long_date
from portal.entrypoints.pages.console_newsletter import scheduled_time
from portal.entrypoints.pages.console_videos import upload_id_of
from portal.entrypoints.pages.videos import Player, player
from portal.entrypoints.problems import CREDENTIALS, field_errors
from portal.settings import Settings
from tests.support.processes import free_port

PORTAL = Path(__file__).resolve().parents[2] / "services/portal"
SOURCE = PORTAL / "src/portal"


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/videos/1?q=a", "/videos/1?q=a"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_only_paths_of_this_site_are_returned_to(candidate, expected):
    assert safe_return_path(candidate) == expected


def test_the_language_is_the_choice_then_the_browsers_first_supported_one():
    assert choose_language("fr", ["en"]) == "fr"
    assert choose_language(None, ["de-DE", "fr-CA", "en"]) == "fr"
    assert choose_language("xx", ["de"]) == "en"


def test_a_new_code_may_be_asked_for_once_the_cooldown_is_over():
    sent = CodeRequest(sent_at=1000.0, cooldown_s=60)
    assert sent.seconds_to_wait(1000.0) == 60
    assert sent.seconds_to_wait(1059.5) == 1
    assert sent.seconds_to_wait(1060.0) == 0


def test_durations_read_as_a_clock():
    assert [clock_duration(s) for s in (0, 95, 3723.4, None)] == ["0:00", "1:35", "1:02:03", "0:00"]


def test_every_message_of_the_pages_is_translated_into_french():
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}  # fmt: skip
    extracted = {
        (context, message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, context in extract_from_dir(
            str(SOURCE), method_map, keywords=keywords
        )
    }
    with (SOURCE / "translations/fr/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = read_po(po)
    translated = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0])
        for m in catalogue
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    assert len(extracted) > 90
    assert extracted - translated == set()


def settings_with_nothing_behind() -> Settings:
    nowhere = f"http://127.0.0.1:{free_port()}"
    return Settings(
        secret_key="unit-test-secret",
        identity_url=nowhere,
        catalogue_url=nowhere,
        newsletter_url=nowhere,
        secure_cookies=True,
        api_timeout_s=1,
    )


class CompiledTemplates(BytecodeCache):
    """Each template's compiled code, kept for the next app of this test process: the unit tests build
    a portal per test (per request, some), and each compiled every template it rendered anew. Jinja keys
    the code by the template's name and checks it against its source."""

    def __init__(self) -> None:
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.codes:
            bucket.bytecode_from_string(self.codes[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.codes[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def portal_client(
    identity: object = None,
    config: dict[str, object] | None = None,
    fakes: dict[str, object] | None = None,
    **settings_changes: object,
):  # type: ignore[no-untyped-def]
    """A test client of the portal with no service behind it, but `identity` and `fakes` (other
    clients of the wired portal, by name) when given."""
    settings = replace(settings_with_nothing_behind(), **settings_changes)
    portal = bootstrap(settings)
    if identity is not None:
        portal = replace(portal, identity=identity)  # type: ignore[arg-type]
    portal = replace(portal, **(fakes or {}))  # type: ignore[arg-type]
    app = create_app(settings, portal, config)
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    return app.test_client()


def csrf_token(client, path: str) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of the form on the page at `path`, for this client's session."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)  # type: ignore[union-attr]


def at_two_step(two_step: object) -> tuple[Any, str]:
    """A portal client logged in (over `two_step`, a fake of identity) on its two-step set-up page,
    with the page's CSRF token."""
    client = portal_client(two_step, config={"TESTING": False})
    with client.session_transaction() as session:
        session["token"] = "a-token"
    return client, csrf_token(client, "/account/two-step")


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    return portal_client(config={"TESTING": False})


def test_the_video_list_says_the_catalogue_is_unavailable_in_the_visitors_language(client):
    english = client.get("/")
    french = client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert english.status_code == french.status_code == 200
    assert "The video catalogue is unavailable." in english.text
    assert "Le catalogue vidéo est indisponible." in french.text and '<html lang="fr">' in french.text


def test_the_portal_stays_ready_with_identity_down(client):
    """Its pages answer without identity (the video list; a page saying the account service is
    unavailable). Unready with it, every portal pod would leave its Service at once, and visitors
    would meet the edge's bare 502 instead, on the pages that need no identity too."""
    response = client.get("/readyz")
    assert (response.status_code, response.json["status"]) == (200, "ready")


def test_identity_down_is_a_page_saying_so_not_a_500(client):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
    assert response.status_code == 503
    assert "The account service is unavailable." in response.text


def test_forms_without_this_sessions_csrf_token_are_refused(client):
    client.get("/login")
    for form in ({"email": "a@example.org"}, {"email": "a@example.org", "csrf_token": "forged"}):
        response = client.post("/login", data=form)
        assert response.status_code == 400
        assert "This form has expired" in response.text


def test_the_session_cookie_is_httponly_samesite_and_secure(client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_the_language_switch_stays_on_the_page_and_never_leaves_the_site(client):
    token = csrf_token(client, "/signup")
    switched = client.post("/language", data={"csrf_token": token, "language": "fr", "next": "/signup"})
    assert (switched.status_code, switched.headers["Location"]) == (303, "/signup")
    assert "<h1>Créer un compte</h1>" in client.get("/signup").text
    away = client.post("/language", data={"csrf_token": token, "language": "en", "next": "//evil.example"})
    assert away.headers["Location"] == "/"


def test_the_built_in_session_key_is_refused_outside_development(monkeypatch):
    monkeypatch.setenv("ACCOUNTS_ENV", "production")
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with pytest.raises(InsecureKey):
        Settings.from_env()
    monkeypatch.setenv("PORTAL_SECRET_KEY", "short")
    with pytest.raises(InsecureKey):
        Settings.from_env()


def test_dates_read_in_the_pages_language():
    settings = settings_with_nothing_behind()
    app = create_app(settings, bootstrap(settings))
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert long_date("2021-02-11T14:00:00Z") == "11 février 2021"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert long_date("2021-02-11T14:00:00+00:00") == "February 11, 2021"
        assert long_date("not a date") == ""


class SupportStaffIdentity:
    """Identity's answer for a support person logged in with the second factor."""

    def me(self, token: str) -> dict[str, object]:
        return {"email": "support@example.org", "roles": ["support"], "second_factor": True}


@pytest.mark.parametrize("query", ["", "?email=ana.silva%40example.org"])
def test_the_deliveries_page_says_the_dead_letters_are_unavailable_when_the_mailer_does_not_answer(query):
    client = portal_client(SupportStaffIdentity(), mailer_url=f"http://127.0.0.1:{free_port()}")
    with client.session_transaction() as session:
        session["token"] = "a-support-token"
    page = client.get(f"/console/deliveries{query}")
    assert page.status_code == 200
    assert "The dead letters cannot be read just now." in page.text
    assert "No dead letters." not in page.text
    assert ("The mail service is unavailable." in page.text) == bool(query)


class FakeIdentity:
    """Identity's answers for one registration; records the calls the portal makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.return_paths: list[str] = []
        self.refusal: ApiError | None = None

    def register(self, email: str, password: str, locale: str) -> dict[str, str]:
        self.calls.append(("register", email, locale))
        return {"status": "verification_pending", "email": email, "registration_id": "reg-123"}

    def resend_code(self, email: str, registration_id: str) -> None:
        self.calls.append(("resend", email, registration_id))

    def request_password_reset(self, email: str, return_to: str) -> None:
        self.calls.append(("reset", email))
        self.return_paths.append(return_to)
        if self.refusal:
            raise self.refusal


def test_the_registration_id_stays_in_the_session_and_a_new_code_is_asked_for_it():
    identity = FakeIdentity()
    client = portal_client(identity, resend_cooldown_s=0)
    token = csrf_token(client, "/signup")
    created = client.post(
        "/signup",
        data={"csrf_token": token, "email": "a@example.org", "password": "x"},
        headers={"Accept-Language": "fr"},
    )
    assert (created.status_code, created.headers["Location"]) == (303, "/signup/verify")
    assert "reg-123" not in created.headers["Location"]
    resent = client.post("/signup/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "We have sent a new code to a@example.org." in resent.text
    assert identity.calls == [("register", "a@example.org", "fr"), ("resend", "a@example.org", "reg-123")]


def test_a_new_reset_code_waits_out_the_cooldown_and_a_refusal_is_said_on_the_code_page():
    identity = FakeIdentity()
    client = portal_client(identity, resend_cooldown_s=60)
    token = csrf_token(client, "/password-reset")
    started = client.post("/password-reset", data={"csrf_token": token, "email": "a@example.org"})
    assert (started.status_code, started.headers["Location"]) == (303, "/password-reset/code")

    too_early = client.post("/password-reset/code/resend", data={"csrf_token": token})
    assert too_early.status_code == 429
    assert "You can ask for a new code in" in too_early.text

    with client.session_transaction() as session:
        session["reset"] = {**session["reset"], "sent_at": 0}
    resent = client.post("/password-reset/code/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "We have sent a new code to a@example.org." in resent.text

    with client.session_transaction() as session:
        session["reset"] = {**session["reset"], "sent_at": 0}
    identity.refusal = ApiError(429, "rate-limited", "Too many requests")
    refused = client.post("/password-reset/code/resend", data={"csrf_token": token})
    assert refused.status_code == 400
    assert "Too many attempts. Please wait a few minutes and try again." in refused.text
    assert identity.calls == [("reset", "a@example.org")] * 3


@pytest.mark.parametrize(
    ("method", "path", "start"),
    [
        ("GET", "/signup/verify", "/signup"),
        ("POST", "/signup/verify", "/signup"),
        ("POST", "/signup/resend", "/signup"),
        ("GET", "/password-reset/code", "/password-reset"),
        ("POST", "/password-reset/code", "/password-reset"),
        ("POST", "/password-reset/code/resend", "/password-reset"),
        ("GET", "/password-reset/new", "/password-reset"),
        ("POST", "/password-reset/new", "/password-reset"),
    ],
)
def test_a_step_of_a_flow_not_under_way_sends_to_its_first_page(method, path, start):
    client = portal_client()
    token = csrf_token(client, "/signup")
    response = client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
    assert (response.status_code, response.headers["Location"]) == (303, start)


class FakeLogin(FakeIdentity):
    """Identity accepting every login."""

    def log_in(self, email: str, password: str, totp: str = "") -> str:
        return "token"

    def me(self, token: str) -> dict[str, str]:
        return {"email": "a@example.org", "locale": "en"}


def login_client():  # type: ignore[no-untyped-def]
    return portal_client(FakeLogin(), config={"TESTING": False})


def log_in(client, next_value: str | None = None):  # type: ignore[no-untyped-def]
    page = client.get("/login", query_string={"next": next_value} if next_value is not None else None)
    if page.status_code != 200:
        return page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "x"})


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/videos/1?q=a", "/videos/1?q=a"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/%09/evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("https:evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),  # the login page sends a signed-in user to the return path: a loop
        ("/login?reason=download", "/"),
        ("/%6Cogin/", "/"),
        ("/logout", "/"),
    ],
)
def test_logging_in_returns_only_to_a_page_of_this_site(next_value, location):
    answer = log_in(login_client(), next_value)
    assert (answer.status_code, answer.headers["Location"]) == (303, location)


def test_the_log_in_link_of_the_login_page_keeps_the_page_remembered_before():
    client = login_client()
    client.get("/videos/42")  # remembered as the page to come back to (the catalogue is down: no matter)
    login_page = client.get("/login", query_string={"reason": "download"})
    menu = re.search(r'<nav class="menu".*?</nav>', login_page.text, re.S).group(0)  # type: ignore[union-attr]
    assert 'href="/login"' in menu
    answer = log_in(client)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/videos/42")


@pytest.mark.parametrize("next_value", ["/\n", "/\t/evil.example", "/\r/evil.example", "/x\x00"])
def test_a_control_character_in_next_is_a_422_page_and_the_session_still_logs_in(next_value):
    client = login_client()
    refused = log_in(client, next_value)
    assert refused.status_code == 422 and "The request could not be completed." in refused.text
    answer = log_in(client)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/")
    assert client.get("/login").status_code == 302


def test_the_language_switch_never_follows_a_tab_to_another_host(client):
    token = csrf_token(client, "/signup")
    away = client.post("/language", data={"csrf_token": token, "language": "en", "next": "/\t/evil.example"})
    assert away.headers["Location"] == "/"


OPERATIONS = ("/healthz", "/readyz", "/metrics", "/openapi.json")


def test_every_page_forbids_framing_sniffing_leaking_its_address_and_its_opener(client):
    app = client.application
    paths = [
        re.sub(r"<[^>]+>", "x", rule.rule)
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and rule.rule not in OPERATIONS
        and not rule.rule.startswith("/static")
    ]
    pages = [client.get(path, follow_redirects=True) for path in [*paths, "/no-such-page"]]
    pages.append(client.post("/login", data={"csrf_token": "forged"}))  # the CSRF error page
    assert len(pages) >= 15 and {page.mimetype for page in pages} == {"text/html"}
    for page in pages:
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"], page.request.path
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
        # A site that opened the portal (window.open) keeps no handle on it: it cannot count its frames,
        # see when it closes or navigate it elsewhere (a console tab to a look-alike login page).
        assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_services_wording_becomes_the_fields_plain_message_in_the_pages_language():
    settings = settings_with_nothing_behind()
    app = create_app(settings, bootstrap(settings))
    library_words = {
        "email": ["An email address must have an @-sign."],
        "password": ["Length must be between 1 and 128."],
        "registration_id": ["Not a valid UUID."],
    }
    error = ApiError(422, "validation-error", errors=library_words)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert field_errors(error, CREDENTIALS) == {
            "email": ["Saisissez une adresse électronique valide, par exemple nom@example.org."],
            "password": ["Saisissez un mot de passe."],
            "_form": ["Vérifiez ce champ et réessayez."],
        }
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert field_errors(error, CREDENTIALS)["password"] == ["Enter a password."]


def test_the_video_page_plays_the_catalogues_preview_url_else_its_preview_next_to_the_thumbnail():
    base = "https://catalogue.example.org/v1/videos/42"
    mp4 = {"container": "mp4", "height": 360}
    contract = {"preview_url": "https://cdn.example.org/p.mp4", "poster_url": "https://cdn.example.org/p.jpg",
                "thumbnail": f"{base}/thumbnail", "renditions": [mp4]}  # fmt: skip
    assert player(contract) == Player("https://cdn.example.org/p.mp4", "https://cdn.example.org/p.jpg")
    today = {"thumbnail": f"{base}/thumbnail", "renditions": [{"container": "mxf", "height": 1080}, mp4]}
    assert player(today) == Player(f"{base}/preview", f"{base}/thumbnail")
    assert player({**today, "renditions": [{"container": "mxf", "height": 1080}]}) is None
    assert player({"thumbnail": None, "renditions": [mp4]}) is None


UPLOAD = "0b6f5a9e-3c1d-4e2f-8a7b-1c2d3e4f5a6b"


@pytest.mark.parametrize(
    "value",
    [
        f"/console/videos/uploads/{UPLOAD}",  # what the page's script fills in
        f"https://catalogue.example.org/v1/uploads/{UPLOAD}",  # what tuspy prints
        f"  {UPLOAD.replace('-', '')}/ ",
    ],
)
def test_the_new_video_form_takes_the_upload_in_any_form_an_editor_has_it(value):
    assert upload_id_of(value) == UPLOAD


@pytest.mark.parametrize("value", ["", "not an upload", f"{UPLOAD}/extra", "/console/videos/uploads/"])
def test_anything_else_is_not_an_upload(value):
    assert upload_id_of(value) is None


class AdminIdentity:
    """Identity's answer for an admin logged in with the second factor."""

    def me(self, token: str) -> dict[str, object]:
        return {"email": "admin@example.org", "roles": ["admin"], "second_factor": True}


def staff_client(identity: object, **fakes: object):  # type: ignore[no-untyped-def]
    """A test client signed in as staff, with `identity` and the `fakes` behind it."""
    client = portal_client(identity, config={"TESTING": False}, fakes=fakes)
    with client.session_transaction() as session:
        session["token"] = "a-staff-token"
    return client


@pytest.mark.parametrize("query", ["to=9999-12-31", "to=2026-02-30", "from=tomorrow"])
def test_a_date_the_audit_cannot_search_is_said_next_to_its_field(query):
    page = staff_client(AdminIdentity()).get(f"/console/audit?{query}")
    assert page.status_code == 400
    assert "Enter a date, like 2026-12-04." in page.text


class FakeMailer:
    """The mailer's answers to the deliveries page; records the replays asked for."""

    def __init__(self, refusal: ApiError | None = None) -> None:
        self.replays: list[tuple[int, int] | None] = []
        self.refusal = refusal

    def deliveries(self, token: str, email: str) -> list[dict[str, object]]:
        if self.refusal:
            raise self.refusal
        return [{"kind": "code", "status": "sent", "attempts": 1, "created_at": "2026-12-01T09:00:00+00:00"}]

    more_letters = False  # whether the mailer left dead letters out of its list

    def dead_letters(self, token: str) -> tuple[list[dict[str, object]], bool]:
        return [{"partition": 0, "offset": 7, "event_id": "e-7", "event_type": "CodeIssued", "reason": "550",
                 "failed_at": "2026-12-01T09:00:00+00:00"}], self.more_letters  # fmt: skip

    def replay(self, token: str, letter: tuple[int, int] | None = None) -> int:
        self.replays.append(letter)
        if self.refusal:
            raise self.refusal
        return 1


@pytest.mark.parametrize(
    "partition", ["x", "²", "٣", "-1", "9" * 5000, ""], ids=["x", "²", "٣", "-1", "5000 digits", "empty"]
)
def test_a_replay_of_no_dead_letters_position_is_refused_with_a_page(partition):
    mailer = FakeMailer()
    client = staff_client(SupportStaffIdentity(), mailer=mailer)
    token = csrf_token(client, "/console/deliveries")
    answer = client.post(
        "/console/deliveries/replays", data={"csrf_token": token, "partition": partition, "offset": "1"}
    )
    assert answer.status_code == 400 and "The request could not be completed." in answer.text
    assert mailer.replays == []


def test_a_replay_of_a_dead_letters_position_is_asked_of_the_mailer():
    mailer = FakeMailer()
    client = staff_client(SupportStaffIdentity(), mailer=mailer)
    token = csrf_token(client, "/console/deliveries")
    answer = client.post(
        "/console/deliveries/replays", data={"csrf_token": token, "partition": "3", "offset": "12"}
    )
    assert (answer.status_code, answer.headers["Location"]) == (303, "/console/deliveries")
    assert mailer.replays == [(3, 12)]


class FakeTwoStep:
    """Identity enrolling a second factor: the code 123456 is the right one."""

    URI = "otpauth://totp/Multimedia%20Accounts:a@example.org?secret=JBSWY3DPEHPK3PXP&issuer=Multimedia"

    def me(self, token: str) -> dict[str, object]:
        return {"email": "a@example.org", "roles": []}

    def start_totp(self, token: str, password: str) -> dict[str, str]:
        if password == "wrong":
            raise ApiError(403, "wrong-password")
        return {"otpauth_uri": self.URI}

    def confirm_totp(self, token: str, code: str) -> list[str]:
        if code != "123456":
            raise ApiError(401, "invalid-second-factor")
        return ["aaaa-bbbb", "cccc-dddd"]


def test_the_qr_code_is_drawn_from_identitys_enrolment_never_from_the_form():
    client, token = at_two_step(FakeTwoStep())
    forged = {"csrf_token": token, "otpauth_uri": "otpauth://totp/x?secret=" + "A" * 5000, "code": "000000"}

    not_started = client.post("/account/two-step/confirmation", data=forged)
    assert not_started.status_code == 400
    assert "Start setting up two-step verification again." in not_started.text

    started = client.post("/account/two-step", data={"csrf_token": token})
    assert started.status_code == 200 and "JBSWY3DPEHPK3PXP" in started.text
    wrong_code = client.post("/account/two-step/confirmation", data=forged)
    assert wrong_code.status_code == 400 and "JBSWY3DPEHPK3PXP" in wrong_code.text
    confirmed = client.post("/account/two-step/confirmation", data={**forged, "code": "123456"})
    assert confirmed.status_code == 200 and "aaaa-bbbb" in confirmed.text
    again = client.post("/account/two-step/confirmation", data={**forged, "code": "123456"})
    assert again.status_code == 400 and "aaaa-bbbb" not in again.text


@pytest.mark.parametrize(
    ("language", "said"), [("en", "The password is not right."), ("fr", "Le mot de passe est incorrect.")]
)
def test_setting_up_two_step_asks_for_the_password_and_says_when_it_is_wrong(language, said):
    client, token = at_two_step(FakeTwoStep())
    page = client.get("/account/two-step", headers={"Accept-Language": language})
    assert 'name="password" type="password"' in page.text and 'autocomplete="current-password"' in page.text
    wrong = {"csrf_token": token, "password": "wrong"}
    refused = client.post("/account/two-step", data=wrong, headers={"Accept-Language": language})
    assert refused.status_code == 400 and said in refused.text
    assert "JBSWY3DPEHPK3PXP" not in refused.text and 'value="wrong"' not in refused.text


class FakeDeletion:
    """Identity refusing to delete the account with `refusal`."""

    def __init__(self, refusal: ApiError) -> None:
        self.refusal = refusal

    def me(self, token: str) -> dict[str, object]:
        return {"email": "a@example.org", "roles": []}

    def delete_account(self, token: str, password: str) -> None:
        raise self.refusal


@pytest.mark.parametrize(
    ("refusal", "message"),
    [
        (ApiError(429, "rate-limited"), "Too many attempts. Please wait a few minutes and try again."),
        (ApiError(403, "wrong-password"), "The password is not right."),
        (ApiError(409, "last-admin"), "This is the only admin: grant the admin role to someone else first."),
    ],
)
def test_a_refused_account_deletion_says_why_on_the_account_page(refusal, message):
    client = portal_client(FakeDeletion(refusal), config={"TESTING": False})
    with client.session_transaction() as session:
        session["token"] = "a-token"
    token = csrf_token(client, "/account")
    refused = client.post("/account/delete", data={"csrf_token": token, "delete_password": "x"})
    assert refused.status_code == 400 and "<h1>My account</h1>" in refused.text
    assert message in refused.text


def test_a_page_too_long_for_identity_to_keep_is_not_returned_to():
    identity = FakeIdentity()
    client = portal_client(identity)
    searched = client.get("/", query_string={"q": "Военные учения НАТО в Европе " * 7})
    assert len(searched.request.full_path) > 512
    token = csrf_token(client, "/password-reset")
    client.post("/password-reset", data={"csrf_token": token, "email": "a@example.org"})
    assert identity.return_paths == ["/"]
    client.get("/?q=exercise")
    client.post("/password-reset", data={"csrf_token": token, "email": "a@example.org"})
    assert identity.return_paths[-1] == "/?q=exercise"


class EditorIdentity:
    """Identity's answer for a newsletter and catalogue editor logged in with the second factor."""

    def me(self, token: str) -> dict[str, object]:
        roles = ["newsletter-editor", "catalogue-editor"]
        return {"email": "editor@example.org", "roles": roles, "second_factor": True}


class FakeIssues:
    """The newsletter's issues: records the texts saved."""

    def __init__(self) -> None:
        self.saved: list[dict[str, dict[str, str]]] = []

    def create(self, token: str, texts: dict[str, dict[str, str]]) -> dict[str, str]:
        self.saved.append(texts)
        return {"id": UPLOAD}


class SentIssue:
    """The newsletter's issues: one, sent."""

    FIGURES = {"recipients": 3, "sent": 3, "failed": 0, "bounced": 0, "unsubscribed": 0}
    ISSUE = {
        "id": UPLOAD,
        "status": "sent",
        "subject": {"fr": "Sommet"},
        "body": {"fr": "Texte"},
        "updated_at": "2026-12-01T10:00:00.123456+00:00",
        "figures": FIGURES,
    }

    def list(self, token: str, page: int = 1) -> dict[str, object]:
        return {"items": [self.ISSUE], "total": 1, "page": page, "per_page": 50}

    def get(self, token: str, issue_id: str) -> dict[str, object]:
        return self.ISSUE

    def preview(self, token: str, texts: object) -> dict[str, object]:
        return {}


def test_a_sent_issue_is_named_in_the_singular_and_its_sent_mails_in_the_plural_in_french():
    client = staff_client(EditorIdentity(), issues=SentIssue())
    french = {"Accept-Language": "fr"}
    for page in (
        client.get("/console/newsletter", headers=french),
        client.get(f"/console/newsletter/{UPLOAD}", headers=french),
    ):
        assert page.status_code == 200
        assert re.search(r'data-status="sent">Envoyé<', page.text)
        assert "Envoyés" in page.text


class PastTimeIssue(SentIssue):
    """The newsletter's issues: one draft, which the newsletter refuses to send at a past time."""

    ISSUE = {**SentIssue.ISSUE, "status": "draft", "subject": {"en": "Summit", "fr": "Sommet"},
             "body": {"en": "Text", "fr": "Texte"}}  # fmt: skip

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, object]:
        raise ApiError(422, "send-at-past", errors={"send_at": ["This time has passed."]})


def test_a_send_time_that_has_passed_is_said_next_to_its_field_in_the_editors_language():
    client = staff_client(EditorIdentity(), issues=PastTimeIssue())
    french = {"Accept-Language": "fr"}
    token = csrf_token(client, f"/console/newsletter/{UPLOAD}")
    form = {"csrf_token": token, "send_at": "2020-01-01T09:00", "confirmed": "yes"}
    refused = client.post(f"/console/newsletter/{UPLOAD}/send", data=form, headers=french)
    assert refused.status_code == 400
    errors = re.search(r'<ul class="errors" id="send_at-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Cette heure est passée." in errors.group(1)


class FakeEditor:
    """The catalogue's editor API: one video, its texts recorded when saved."""

    VIDEO = {"id": UPLOAD, "status": "ready", "title": {"en": "Exercise", "fr": "Exercice"},
             "description": {"en": "", "fr": ""}, "renditions": [], "published_at": None,
             "texts_version": "version-1"}  # fmt: skip

    def __init__(self) -> None:
        self.saved: list[dict[str, dict[str, str]]] = []
        self.versions_sent: list[str | None] = []

    def video(self, token: str, video_id: str) -> dict[str, object]:
        return self.VIDEO

    def edit(
        self, token: str, video_id: str, texts: dict[str, dict[str, str]], texts_version: str | None = None
    ) -> None:
        self.saved.append(texts)
        self.versions_sent.append(texts_version)


# About 2.5 bytes a character once percent-encoded: 20,000 characters are past 64 KiB.
FRENCH_TEXT = "L’été à Séville : « défilé » réussi — à bientôt ! "


def test_a_long_french_issue_is_saved_and_one_too_long_even_for_the_editor_says_so_on_its_page():
    issues = FakeIssues()
    client = staff_client(EditorIdentity(), issues=issues)
    token = csrf_token(client, "/console/newsletter/new")
    body = (FRENCH_TEXT * 4000)[:200_000]
    form = {
        "csrf_token": token,
        "subject_en": "News",
        "subject_fr": "Nouvelles",
        "body_en": "x",
        "action": "save",
    }
    saved = client.post("/console/newsletter", data={**form, "body_fr": body})
    assert saved.status_code == 303 and issues.saved[0]["body"]["fr"] == body

    too_long = client.post("/console/newsletter", data={**form, "body_fr": body * 12})
    assert too_long.status_code == 413 and "<h1>New issue</h1>" in too_long.text
    assert "The issue is too long to be saved." in too_long.text
    assert len(issues.saved) == 1


def test_long_video_descriptions_are_saved_and_ones_too_long_even_for_the_editor_say_so_on_its_page():
    editor = FakeEditor()
    client = staff_client(EditorIdentity(), editor=editor)
    token = csrf_token(client, f"/console/videos/{UPLOAD}")
    description = (FRENCH_TEXT * 400)[:20_000].strip()
    form = {"csrf_token": token, "title_en": "Exercise", "description_en": description}
    saved = client.post(f"/console/videos/{UPLOAD}", data={**form, "description_fr": description})
    assert saved.status_code == 303 and editor.saved[0]["description"]["fr"] == description

    too_long = client.post(f"/console/videos/{UPLOAD}", data={**form, "description_fr": description * 100})
    assert too_long.status_code == 413 and "<h1>Exercise</h1>" in too_long.text
    assert "The texts are too long to be saved." in too_long.text
    assert len(editor.saved) == 1


def test_an_address_the_mailer_refuses_is_said_next_to_the_field_and_the_dead_letters_still_show():
    refusal = ApiError(422, "validation-error", errors={"email": ["Not a valid email address."]})
    client = staff_client(SupportStaffIdentity(), mailer=FakeMailer(refusal))
    page = client.get("/console/deliveries?email=ana.silva")
    assert page.status_code == 400 and "<h1>Deliveries</h1>" in page.text
    assert "Enter a valid email address, like name@example.org." in page.text
    assert 'value="ana.silva"' in page.text and 'data-event-id="e-7"' in page.text


def test_a_dead_letter_replayed_meanwhile_is_said_on_the_deliveries_page():
    mailer = FakeMailer(ApiError(404, "unknown-dead-letter"))
    client = staff_client(SupportStaffIdentity(), mailer=mailer)
    token = csrf_token(client, "/console/deliveries")
    answer = client.post(
        "/console/deliveries/replays", data={"csrf_token": token, "partition": "0", "offset": "7"}
    )
    assert (answer.status_code, answer.headers["Location"]) == (303, "/console/deliveries")
    page = client.get("/console/deliveries")
    assert "This dead letter is no longer in the list: it was replayed already." in page.text


class FakeStaff:
    """Identity's staff API: one account, and an erasure refused with `refusal`."""

    ACCOUNT = {"id": "1", "email": "p@example.org", "verified": True, "locale": "fr", "roles": [],
               "created_at": "2026-01-01T00:00:00+00:00", "mfa_enrolled": False}  # fmt: skip

    def __init__(self, refusal: ApiError) -> None:
        self.refusal = refusal

    def account(self, token: str, email: str) -> dict[str, object]:
        return self.ACCOUNT

    def erase(self, token: str, email: str, reason: str) -> None:
        raise self.refusal


def test_an_erasure_reason_identity_refuses_is_said_next_to_it_and_kept():
    refusal = ApiError(422, "validation-error", errors={"reason": ["Length must be between 3 and 200."]})
    client = staff_client(SupportStaffIdentity(), staff=FakeStaff(refusal), mailer=FakeMailer())
    token = csrf_token(client, "/console/accounts?email=p@example.org")
    refused = client.post(
        "/console/accounts/erasures", data={"csrf_token": token, "email": "p@example.org", "reason": "no"}
    )
    assert refused.status_code == 400 and "<h1>Accounts</h1>" in refused.text
    assert "Write the reason in 3 to 200 characters." in refused.text
    assert re.search(r'<input id="reason" name="reason" type="text" value="no"', refused.text)


def test_erasing_a_staff_account_says_its_roles_are_revoked_first():
    refusal = ApiError(409, "staff-account", "This account holds staff roles")
    client = staff_client(SupportStaffIdentity(), staff=FakeStaff(refusal), mailer=FakeMailer())
    token = csrf_token(client, "/console/accounts?email=p@example.org")
    form = {"csrf_token": token, "email": "p@example.org", "reason": "asked by phone"}
    refused = client.post("/console/accounts/erasures", data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 409 and "<h1>Comptes</h1>" in refused.text
    assert "un administrateur doit d’abord les retirer" in refused.text


def switch_of(page) -> str:  # type: ignore[no-untyped-def]
    """The page's language switch's `next`: where switching language goes."""
    return re.search(r'name="next" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]


def test_the_language_switch_of_the_recovery_codes_goes_to_the_two_step_page_not_a_post_only_address():
    client, token = at_two_step(FakeTwoStep())
    client.post("/account/two-step", data={"csrf_token": token})
    codes = client.post("/account/two-step/confirmation", data={"csrf_token": token, "code": "123456"})
    assert "aaaa-bbbb" in codes.text and switch_of(codes) == "/account/two-step"
    switched = client.post(
        "/language", data={"csrf_token": token, "language": "fr", "next": switch_of(codes)}
    )
    page = client.get(switched.headers["Location"])
    assert page.status_code == 200 and "<h1>Validation en deux étapes</h1>" in page.text
    assert "aaaa-bbbb" not in page.text


def test_the_language_switch_of_a_page_shown_in_answer_to_a_form_goes_to_a_page_a_get_opens():
    client = portal_client(FakeIdentity(), resend_cooldown_s=60)
    token = csrf_token(client, "/signup")
    client.post("/signup", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
    too_early = client.post("/signup/resend", data={"csrf_token": token})
    assert too_early.status_code == 429 and switch_of(too_early) == "/signup/verify"
    assert client.get(switch_of(too_early)).status_code == 200


class FakeCatalogue:
    """The catalogue's list: 13 videos, 12 a page, and its 422 past page 10,000 (or for words it refuses)."""

    def videos(self, query: str, page: int, language: str = "en") -> dict[str, object]:
        if page > 10_000:
            raise ApiError(422, "validation-error", errors={"page": ["Must be between 1 and 10000."]})
        if query == "\u202e":
            raise ApiError(422, "validation-error", errors={"q": ["Not valid."]})
        items = [{"id": str(n), "title": f"Video {n}"} for n in range(13)][(page - 1) * 12 : page * 12]
        return {"items": items, "total": 13, "page": page, "per_page": 12}


@pytest.mark.parametrize(("page", "status"), [(3, 200), (10_001, 404)])
def test_a_page_past_the_last_says_so_and_leads_to_the_first_not_that_the_catalogue_is_down(page, status):
    client = portal_client(fakes={"catalogue": FakeCatalogue()})
    answer = client.get(f"/?q=exercise&page={page}")
    assert answer.status_code == status
    assert "This page of the list does not exist." in answer.text
    assert 'href="/?q=exercise">Go to the first page' in answer.text
    assert "unavailable" not in answer.text
    assert "Video 12" in client.get("/?q=exercise&page=2").text
    assert 'href="/?page=2&amp;q=exercise">Next page' in client.get("/?q=exercise").text  # the words kept


def test_search_words_the_catalogue_refuses_are_said_to_be_so_not_that_the_catalogue_is_down():
    answer = portal_client(fakes={"catalogue": FakeCatalogue()}).get("/?q=%E2%80%AE")
    assert answer.status_code == 400
    assert "These search words cannot be used. Try other words." in answer.text
    assert "unavailable" not in answer.text


class FakeStaffDirectory:
    """Identity's staff API for an admin: an editor, the audit trail of a refused grant, role changes."""

    MEMBER = {"email": "ed@example.org", "roles": ["newsletter-editor"], "mfa_enrolled": True}
    ENTRY = {"at": "2026-12-01T09:00:00+00:00", "via": "api", "actor_email": "admin@example.org",
             "action": "staff.role-granted", "target": "support → (no verified account)",
             "outcome": "refused", "source": "/identity"}  # fmt: skip

    def account(self, token: str, email: str) -> dict[str, object]:
        return {**FakeStaff.ACCOUNT, **self.MEMBER}

    def members(self, token: str) -> list[dict[str, object]]:
        return [self.MEMBER]

    def audit(self, token: str, filters: dict[str, str], page: int = 1) -> dict[str, object]:
        return {"items": [self.ENTRY], "total": 1, "page": page, "per_page": 100, "as_of": 1}

    def change_role(self, token: str, email: str, role: str, *, grant: bool) -> bool:
        return True


class AdminAndSupportIdentity(AdminIdentity):
    def me(self, token: str) -> dict[str, object]:
        return {"email": "admin@example.org", "roles": ["admin", "support"], "second_factor": True}


def test_the_console_names_roles_mails_and_audit_outcomes_in_french():
    client = staff_client(AdminAndSupportIdentity(), staff=FakeStaffDirectory(), mailer=FakeMailer())
    french = {"Accept-Language": "fr"}
    home = client.get("/console", headers=french).text
    assert "Vos rôles : Administrateur, Assistance." in home
    account = client.get("/console/accounts?email=ed@example.org", headers=french).text
    assert "<dd>Rédacteur de la lettre d’information</dd>" in account
    assert "<td>Code de vérification</td><td>Envoyé</td>" in account
    audit = client.get("/console/audit", headers=french).text
    assert "<td>Refusé</td><td>Service des comptes</td>" in audit
    staff = client.get("/console/staff", headers=french).text
    assert "<li>Rédacteur de la lettre d’information" in staff
    assert '<option value="catalogue-editor">Éditeur du catalogue vidéo</option>' in staff
    token = csrf_token(client, "/console/staff")
    form = {"csrf_token": token, "email": "ed@example.org", "role": "support"}
    granted = client.post("/console/staff/grants", data=form, headers=french, follow_redirects=True)
    assert "ed@example.org a maintenant le rôle Assistance." in granted.text


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("2027-01-05T09:00", "2027-01-05T09:00:00+00:00"),
        ("2027-01-05T09:00+02:00", "2027-01-05T07:00:00+00:00"),
        ("", None),
    ],
)
def test_a_send_time_is_utc_unless_it_names_its_offset(typed, sent):
    assert scheduled_time(typed) == sent
