"""The newsletter's rules without I/O: unsubscribe tokens, delivery ids, keys, the worker's threads."""

import threading
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from accounts_common.config import InsecureKey
from accounts_common.events import validate_data
from accounts_common.process import run_together
from newsletter.domain.content import ALLOWED_TAGS, render, sanitise
from newsletter.domain.issues import (
    RENDERED_EMPTY,
    Issue,
    Recipient,
    delivery_id,
    delivery_request,
    mail_for,
    unsubscribe_url,
)
from newsletter.domain.unsubscribe import account_of_token, unsubscribe_token
from newsletter.settings import DEV_UNSUBSCRIBE_KEY, Settings

KEY = b"0123456789abcdef0123456789abcdef"
ACCOUNT = uuid.UUID("5f0c3b9e-7d2a-4c1b-8e6f-2a9d4c7b1e30")


def test_a_token_names_its_account_and_only_with_the_right_key():
    token = unsubscribe_token(KEY, ACCOUNT)
    assert account_of_token(KEY, token) == ACCOUNT
    assert account_of_token(b"another key of thirty-two bytes!", token) is None
    assert unsubscribe_token(KEY, ACCOUNT) == token  # a link stays valid as long as the key


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: unsubscribe_token(KEY, uuid.uuid4()).split(".")[0] + "." + t.split(".")[1],
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "not base64!.at all",
        lambda t: t + t,
    ],
)
def test_altered_or_made_up_tokens_name_nobody(forge):
    assert account_of_token(KEY, forge(unsubscribe_token(KEY, ACCOUNT))) is None


def other_spelling_of_the_last_character(part: str) -> str:
    """The same bytes under a lenient decoder: the last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused_bits = {2: 4, 3: 2}[len(part) % 4]  # 16-byte ids end with 4 spare bits, 32-byte HMACs with 2
    return part[:-1] + alphabet[alphabet.index(part[-1]) | (1 << unused_bits) - 1]


@pytest.mark.parametrize(
    "respell",
    [
        lambda a, s: f"{other_spelling_of_the_last_character(a)}.{s}",
        lambda a, s: f"{a}.{other_spelling_of_the_last_character(s)}",
        lambda a, s: f"{a}==.{s}",
        lambda a, s: f"{a}.{s}=",
        lambda a, s: f"{a}.{s[:10]}\n{s[10:]}",
        lambda a, s: f" {a}.{s}",
        lambda a, s: f"+{a[1:]}.{s}",
    ],
)
def test_only_the_canonical_spelling_of_a_token_is_accepted(respell):
    account_part, signature_part = unsubscribe_token(KEY, ACCOUNT).split(".")
    assert account_of_token(KEY, respell(account_part, signature_part)) is None


def draft(subjects: dict[str, str], bodies: dict[str, str]) -> Issue:
    return Issue(uuid.uuid4(), "draft", subjects, bodies, None, None, datetime.now(UTC), None, None)


def test_a_delivery_request_is_valid_and_its_id_is_the_same_every_time():
    issue = draft({"en": "News"}, {"en": "Text"})
    recipient = Recipient(3, ACCOUNT, "ana@example.org")
    mail = issue.rendered()["en"]
    event = delivery_request(issue.id, mail, recipient, "https://n.example.org/v1/unsubscribe?token=x", "now")
    validate_data(event.type, event.data)
    assert event.id == event.data["delivery_id"] == str(delivery_id(issue.id, ACCOUNT))
    assert event.subject == str(ACCOUNT)
    assert (
        delivery_id(issue.id, ACCOUNT) == delivery_id(issue.id, ACCOUNT) != delivery_id(uuid.uuid4(), ACCOUNT)
    )


def test_the_unsubscribe_key_is_refused_outside_development_unless_real(monkeypatch):
    monkeypatch.delenv("ACCOUNTS_ENV", raising=False)
    for refused in ("", "short", DEV_UNSUBSCRIBE_KEY):
        monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_KEY", refused)
        with pytest.raises(InsecureKey):
            Settings.from_env()
    real = "Zq3v9-Jc1Lr8XbT2mWk7YhN4pGd6Fs0AeUo5Ri1Kt8Q"
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_KEY", real)
    assert Settings.from_env().unsubscribe_key == real.encode()
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_KEY")
    assert Settings.from_env().unsubscribe_key == DEV_UNSUBSCRIBE_KEY.encode()


def test_when_one_loop_of_the_worker_fails_the_other_is_stopped_and_the_failure_ends_the_process():
    """Raised again once the other loop has stopped: the worker exits non-zero with its traceback,
    so its supervisor counts a crash, not a clean exit."""
    stop = threading.Event()
    stopped = threading.Event()

    def failing(_stop: threading.Event) -> None:
        raise RuntimeError("consumer died")

    def waiting(stop: threading.Event) -> None:
        stop.wait()
        stopped.set()

    with pytest.raises(RuntimeError, match="consumer died"):
        run_together(stop, failing, waiting)
    assert stop.is_set() and stopped.is_set()


def test_each_subscriber_reads_their_language_and_english_when_theirs_is_unknown():
    issue = draft({"en": "News", "fr": "Nouvelles"}, {"en": "Hello", "fr": "Bonjour"})
    mails = issue.rendered()
    for locale, subject, lang in ((None, "News", "en"), ("fr", "Nouvelles", "fr"), ("en", "News", "en")):
        recipient = Recipient(1, ACCOUNT, "ana@example.org", locale)
        link = unsubscribe_url("https://portal.example.org", "t", recipient)
        event = delivery_request(issue.id, mail_for(mails, recipient), recipient, link, "now")
        assert (event.data["subject"], event.data["locale"]) == (subject, lang)
        assert link.endswith(f"&lang={lang}")


def test_a_french_subscriber_of_an_issue_written_before_issues_had_languages_gets_the_english_mail():
    mails = draft({"en": "News"}, {"en": "Hello"}).rendered()
    assert mail_for(mails, Recipient(1, ACCOUNT, "ana@example.org", "fr")).subject == "News"


def test_an_issue_missing_a_language_says_what_is_missing():
    issue = draft({"en": "News", "fr": " "}, {"en": "Hello"})
    assert issue.missing() == {
        "subject.fr": ["Missing: every subscriber gets the issue in their language."],
        "body.fr": ["Missing: every subscriber gets the issue in their language."],
    }
    assert issue.languages_written() == ["en"]
    assert draft({"en": "a", "fr": "b"}, {"en": "c", "fr": "d"}).missing() == {}


@pytest.mark.parametrize(
    "body", ["[x]: https://example.org", "  \n[//]: # (a comment)\n", "[a]: /a\n[b]: /b\n"]
)
def test_a_body_that_renders_to_nothing_is_missing_too(body):
    issue = draft({"en": "News", "fr": "Nouvelles"}, {"en": body, "fr": "Bonjour"})
    assert issue.missing() == {"body.en": [RENDERED_EMPTY]}
    assert issue.rendered_empty() == {"body.en": [RENDERED_EMPTY]}


class Elements(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


ATTACKS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="https://x.org" onclick="alert(1)">x</a>',
    "![x](javascript:alert(1))",
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg><script>alert(1)</script></svg>",
    '[x](JaVaScRiPt:alert(1) "t")',
]


def assert_inert(html: str) -> None:
    for tag, attrs in Elements(html).found:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", name
            assert not (value or "").strip().lower().startswith(("javascript:", "data:")), value


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_html_part_carries_no_script_and_no_event_handler(attack):
    assert_inert(render("S", f"Hello {attack}").html)
    assert_inert(sanitise(f"<p>Hello {attack}</p>"))  # even were raw HTML let through the renderer


def test_markdown_becomes_html_and_a_text_part_from_the_same_source():
    mail = render("S", "# News\n\nSee [the video](https://v.example.org/1) *now*.\n\n- one\n- two\n")
    assert "<h1>News</h1>" in mail.html
    assert '<a href="https://v.example.org/1" rel="noopener noreferrer">the video</a>' in mail.html
    assert "<em>now</em>" in mail.html
    assert mail.text == "News\n\nSee the video <https://v.example.org/1> now.\n\n- one\n\n- two\n"


def test_a_list_items_later_paragraphs_are_not_numbered_as_items_of_their_own():
    mail = render("S", "1. First step\n\n   More about it.\n2. Second step\n\n- a\n\n  still a\n- b\n")
    assert mail.text == "1. First step\n\n   More about it.\n\n2. Second step\n\n- a\n\n  still a\n\n- b\n"


@pytest.mark.parametrize(
    "link",
    ["[a](/console/newsletter)", "[a](page.html)", "[a](//host.example/x)", "[a](#top)", "![a](/logo.png)"],
)
def test_a_relative_address_which_leads_nowhere_from_a_mailbox_is_left_out_of_both_parts(link):
    """Only absolute http(s) and mailto addresses are kept; a relative one is broken in every mail, and
    in the console's preview it leads to the portal, with the editor's session."""
    mail = render("S", f"See {link} here.")
    for _tag, attrs in Elements(mail.html).found:
        assert not {"href", "src"} & {name for name, _ in attrs}, mail.html
    assert mail.text == "See a here.\n"


def test_a_list_numbered_from_zero_is_numbered_from_zero_in_the_text_part_too():
    mail = render("S", "0. Before we start\n1. First\n")
    assert '<ol start="0">' in mail.html
    assert mail.text == "0. Before we start\n\n1. First\n"


PORTAL = "https://portal.example.org"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_mailed_issues_links_into_the_portal_open_it_in_the_mails_language(language):
    body = (
        f"- [A video]({PORTAL}/videos/1)\n- [Home]({PORTAL})\n- [Search]({PORTAL}/videos?q=a&lang=xx)\n"
        "- [Elsewhere](https://other.example.org/videos/1)\n- [A look-alike](https://portal.example.org.evil/x)\n"
    )
    mail = render("S", body, (PORTAL, language))
    hrefs = [dict(attrs)["href"] for tag, attrs in Elements(mail.html).found if tag == "a"]
    assert hrefs == [
        f"{PORTAL}/videos/1?lang={language}",
        f"{PORTAL}/?lang={language}",
        f"{PORTAL}/videos?q=a&lang={language}",
        "https://other.example.org/videos/1",
        "https://portal.example.org.evil/x",
    ]
    assert f"<{PORTAL}/videos/1?lang={language}>" in mail.text  # the text part too


def test_the_consoles_preview_keeps_the_links_as_written():
    """Opened from the console, a lang link would switch the editor's own pages to the mail's language."""
    mail = render("S", f"[A video]({PORTAL}/videos/1)")
    assert f'href="{PORTAL}/videos/1"' in mail.html
