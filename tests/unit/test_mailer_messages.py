"""Composing the mailer's emails: templates, escaping, languages and the MIME text, without I/O."""

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from mailer.adapters.templates import Templates
from mailer.domain.messages import Content, Envelope, brands, build_message
from mailer.entrypoints.cli import check_senders
from mailer.service_layer.handlers import minutes_left
from mailer.settings import Settings

ENVELOPE = Envelope("NATO Multimedia Account <no-reply@multimedia.localhost>", "support@multimedia.localhost")
CONTEXT = {"product_name": "NATO Multimedia Account", "portal_url": "https://portal.example.test"}


def parsed(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_a_language_without_translations_falls_back_to_english():
    content = Templates("de").render("welcome", CONTEXT | {"newsletter_url": "https://portal.example.test/n"})
    assert content.subject == "You have successfully created your account"


CODE_CONTEXT = CONTEXT | {"code": "123456", "purpose": "verification", "minutes": 30}


def test_the_recipients_locale_picks_the_language_over_the_configured_one():
    content = Templates("en").render("code", CODE_CONTEXT, language="fr")
    assert content.subject == "Créer un compte : votre code de vérification"
    assert "Votre code de vérification : 123456" in content.text
    assert "Ce code expirera dans 30 minutes." in content.text
    assert '<html lang="fr">' in content.html


@pytest.mark.parametrize("locale", [None, "", "xx", "../en"])
def test_an_absent_or_unknown_locale_falls_back_to_the_configured_language(locale):
    french, english = Templates("fr"), Templates("en")
    assert french.render("code", CODE_CONTEXT, language=locale).subject.startswith("Créer un compte")
    assert english.render("code", CODE_CONTEXT, language=locale).subject.startswith("Create an account")


@pytest.mark.parametrize("kind", ["code", "welcome", "password_updated", "newsletter"])
def test_every_email_exists_in_french_and_english(kind):
    context = CODE_CONTEXT | {
        "newsletter_url": "https://portal.example.test/newsletter",
        "login_url": "https://portal.example.test/login",
        "issue_subject": "Issue",
        "issue_text": "Text",
        "issue_html": Markup("<p>Text</p>"),
        "unsubscribe_url": "https://n.example.test/u",
    }
    english = Templates("en").render(kind, context, language="en")
    french = Templates("en").render(kind, context, language="fr")
    assert french.text != english.text and '<html lang="fr">' in french.html


LINKS = {
    "newsletter_url": "https://portal.example.test/newsletter",
    "login_url": "https://portal.example.test/videos?q=a+b&lang=en",
    "reset_url": "https://portal.example.test/password-reset",
}


@pytest.mark.parametrize(
    ("configured", "locale", "language"), [("en", "fr", "fr"), ("fr", None, "fr"), ("de", "xx", "en")]
)
def test_every_portal_link_opens_the_portal_in_the_mails_language(configured, locale, language):
    for kind in ("welcome", "password_updated", "account_exists"):
        content = Templates(configured).render(kind, CONTEXT | LINKS, language=locale)
        assert f'<html lang="{language}">' in content.html
        links = re.findall(r'href="([^"]+)"', content.html)
        assert links and all(link.endswith(f"lang={language}") for link in links), links
        assert all(link.count("lang=") == 1 for link in links), links
        written = re.findall(r"https://portal\.example\.test\S*", content.text)
        assert written and all(link.endswith(f"lang={language}") for link in written), written
    welcome = Templates(configured).render("welcome", CONTEXT | LINKS, language=locale)
    assert f'href="https://portal.example.test/?lang={language}"' in welcome.html
    password_updated = Templates(configured).render("password_updated", CONTEXT | LINKS, language=locale)
    assert f"https://portal.example.test/videos?q=a+b&lang={language}" in password_updated.text


def test_the_unsubscribe_link_keeps_the_language_the_newsletter_gave_it():
    context = CONTEXT | {
        "issue_subject": "Issue",
        "issue_text": "Text",
        "issue_html": Markup("<p>Text</p>"),
        "unsubscribe_url": "https://portal.example.test/newsletter/unsubscribe?token=t&lang=fr",
    }
    content = Templates("en").render("newsletter", context, language="en")
    assert "https://portal.example.test/newsletter/unsubscribe?token=t&lang=fr" in content.text


def test_html_escapes_what_it_is_given_but_keeps_the_operators_issue_markup():
    context = CONTEXT | {
        "issue_subject": "News <b>",
        "issue_text": "Text <b>",
        "issue_html": Markup("<h1>Issue</h1>"),
        "unsubscribe_url": 'https://n.example.test/u?token=a"b',
    }
    content = Templates("en").render("newsletter", context)
    assert "<h1>Issue</h1>" in content.html
    assert "<title>News &lt;b&gt;</title>" in content.html
    assert 'href="https://n.example.test/u?token=a&#34;b"' in content.html
    assert "Text <b>" in content.text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_newsletters_text_part_is_the_issues_text_then_the_footer(language):
    """As the console's preview shows it, in either language: the subject is the mail's, not a line."""
    context = CONTEXT | {
        "issue_subject": "Our news",
        "issue_text": "Body.\n",
        "issue_html": Markup("<p>Body.</p>"),
        "unsubscribe_url": "https://n.example.test/u",
    }
    content = Templates("en").render("newsletter", context, language=language)
    assert content.text.startswith("Body.\n")
    assert "Our news" not in content.text


def test_a_missing_template_variable_is_an_error_not_a_blank():
    with pytest.raises(UndefinedError, match="code"):
        Templates("en").render("code", CONTEXT | {"purpose": "verification", "minutes": 30})


def test_the_message_has_both_parts_and_every_header():
    content = Content("Über uns", "Line one\nFrom the start\n.dot\n", "<p>é</p>")
    outgoing = build_message(ENVELOPE, "ana@example.org", content, event_id="e-1", extra_headers={"X-A": "b"})
    message = parsed(outgoing.raw)
    assert message["Subject"] == "Über uns"
    assert message["From"] == ENVELOPE.mail_from and message["Reply-To"] == ENVELOPE.reply_to
    assert message["Message-ID"] == outgoing.message_id and outgoing.message_id.endswith(
        "@multimedia.localhost>"
    )
    assert message["X-Accounts-Event-Id"] == "e-1" and message["X-A"] == "b" and message["Date"]
    assert (
        message.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Line one\nFrom the start\n.dot\n"
    )
    assert message.get_body(("html",)).get_content().strip() == "<p>é</p>"
    assert (outgoing.sender, outgoing.recipient) == ("no-reply@multimedia.localhost", "ana@example.org")
    assert all(len(line) <= 998 for line in outgoing.raw.split(b"\r\n"))


@pytest.mark.parametrize(
    ("recipient", "headers", "subject"),
    [
        ("ana@example.org\r\nBcc: x@example.org", {}, "s"),
        ("ana@example.org", {"X-A": "b\r\nBcc: x@example.org"}, "s"),
        ("ana@example.org", {}, "An issue\nBcc: x@example.org"),
        ("ana@example.org", {}, "Un numéro\rBcc: x@example.org"),
    ],
)
def test_header_injection_is_refused(recipient, headers, subject):
    with pytest.raises(ValueError):
        build_message(ENVELOPE, recipient, Content(subject, "t", "h"), event_id="e", extra_headers=headers)


def test_every_mail_says_it_is_sent_by_a_machine_so_no_responder_answers_it():
    """RFC 3834: vacation and other automatic replies are not sent to an `auto-generated` mail, which
    would otherwise come back to the Reply-To address (or be read as a bounce)."""
    outgoing = build_message(ENVELOPE, "ana@example.org", Content("s", "t", "h"), event_id="e")
    assert parsed(outgoing.raw)["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(
    ("purpose", "heading"), [("verification", "Create an account"), ("password_reset", "Reset password")]
)
def test_the_code_email_reads_as_the_seed_in_plain_text(purpose, heading):
    context = CONTEXT | {"code": "042917", "purpose": purpose, "minutes": 30}
    text = Templates("en").render("code", context).text
    assert (
        f"{heading}\n\nCheck your inbox and enter verification code\n\nYour verification code: 042917\n"
        in text
    )
    assert "This code will expire in 30 minutes." in text


def test_a_non_ascii_address_is_written_as_utf8_and_asks_for_smtputf8():
    content = Content("Subject", "text\n", "<p>html</p>")
    outgoing = build_message(ENVELOPE, "josé@bücher.example", content, event_id="e1")
    assert outgoing.needs_smtputf8
    assert b"To: jos\xc3\xa9@b\xc3\xbccher.example\r\n" in outgoing.raw
    assert not build_message(ENVELOPE, "jose@example.org", content, event_id="e2").needs_smtputf8


@pytest.mark.parametrize(
    ("seconds_left", "minutes"),
    [(1800, 30), (1799, 30), (300, 5), (61, 2), (60, 1), (1, 1), (0, None), (-5, None)],
)
def test_minutes_left_rounds_up_and_is_none_once_expired(seconds_left, minutes):
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert minutes_left(now + timedelta(seconds=seconds_left), now) == minutes


def test_one_minute_left_is_singular():
    text = (
        Templates("en")
        .render("code", CONTEXT | {"code": "123456", "purpose": "verification", "minutes": 1})
        .text
    )
    assert "This code will expire in 1 minute." in text


def test_french_mails_carry_the_french_product_name_in_the_banner_and_the_senders_name():
    brand = brands(
        "NATO Multimedia Account <no-reply@multimedia.localhost>",
        "support@multimedia.localhost",
        {"en": "NATO Multimedia Account", "fr": "Compte multimédia OTAN"},
        default="en",
    )
    french = Templates("en").render("code", CODE_CONTEXT | {"product_name": brand["fr"].product_name}, "fr")
    assert "COMPTE MULTIMÉDIA OTAN" in french.text and "COMPTE MULTIMÉDIA OTAN" in french.html
    raw = build_message(brand["fr"].envelope, "ana@example.org", french, event_id="e-1").raw
    sent = email.message_from_bytes(raw, policy=policy.default)
    assert sent["From"].addresses[0].display_name == "Compte multimédia OTAN"
    assert sent["From"].addresses[0].addr_spec == "no-reply@multimedia.localhost"
    assert brand["en"].envelope.from_header == "NATO Multimedia Account <no-reply@multimedia.localhost>"


@pytest.mark.parametrize(
    "name", ["OTAN, Multimédia", "OTAN; Multimédia", "Compte : OTAN", 'Le "Compte"', "OTAN (Multimédia)"]
)
def test_a_french_product_name_with_address_punctuation_is_the_senders_whole_name(name):
    french = brands(ENVELOPE.mail_from, ENVELOPE.reply_to, {"en": "NATO", "fr": name}, default="en")["fr"]
    sent = build_message(french.envelope, "ana@example.org", Content("s", "t", "h"), event_id="e")
    assert parsed(sent.raw)["From"].addresses[0].display_name == name
    assert parsed(sent.raw)["From"].addresses[0].addr_spec == "no-reply@multimedia.localhost"
    assert len(parsed(sent.raw)["From"].addresses) == 1


@pytest.mark.parametrize(
    "changes",
    [{"mail_from": "NATO, Accounts <no-reply@multimedia.localhost"}, {"reply_to": "support"}],
)
def test_an_unusable_sender_is_refused_at_start_up(changes):
    settings = Settings(database_url="postgresql://x", kafka_bootstrap_servers="x:9092", **changes)
    with pytest.raises(SystemExit, match="refusing to start: .* unusable"):
        check_senders(settings)


@pytest.mark.parametrize("name", ["Compte multimédia OTAN", "OTAN, Multimédia", "NATO, Accounts"])
def test_a_sender_at_a_non_ascii_address_sends_in_every_language_under_its_whole_name(name):
    """An internationalised sender (RFC 6531/6532) is as usable as the others: each language's mails
    go from it under their product name, which stays one name whatever its punctuation."""
    sender = "envoi@otan-multimédia.example"
    made = brands(f"NATO <{sender}>", ENVELOPE.reply_to, {"en": "NATO", "fr": name}, default="en")
    sent = build_message(made["fr"].envelope, "ana@example.org", Content("s", "t", "h"), event_id="e")
    assert sent.needs_smtputf8 and sent.sender == sender
    headers = email.message_from_string(sent.raw.decode("utf-8"), policy=policy.default)  # RFC 6532
    [address] = headers["From"].addresses
    assert (address.display_name, address.addr_spec) == (name, sender)
