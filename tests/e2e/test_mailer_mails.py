"""Every email the mailer sends, through a running `mailer worker`, read back from the SMTP sink."""

import uuid
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime

import pytest

from accounts_common.events.topics import ACCOUNT_EVENTS, CODES, NEWSLETTER_DELIVERIES
from tests.e2e.conftest import PORTAL_URL
from tests.e2e.mail_helpers import code_issued, event_id_counts, headers_of, newsletter_delivery, unfilled
from tests.support.inbox import code_in

SEED_RETURN_TO_LOG_IN = (
    "Click the button to return to the page you were on and log in with your new password."
)


def now() -> str:
    return datetime.now(UTC).isoformat()


def well_formed_mail(mailer, infra, topic: str, event_type: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    """Publish one event and read the one email it sends, checked for what every email carries: the
    headers, both parts, nothing left unfilled."""
    recipient = data["email"]
    event = mailer.publish(topic, event_type, data)
    [mail] = infra.inbox.wait_for_messages(recipient)
    headers = headers_of(mail)
    assert headers["to"] == recipient
    assert parseaddr(headers["from"])[1] == "no-reply@multimedia.localhost"
    assert headers["reply-to"] == "support@multimedia.localhost"
    assert headers["message-id"].startswith("<") and headers["message-id"].endswith("@multimedia.localhost>")
    assert abs((parsedate_to_datetime(headers["date"]) - datetime.now(UTC)).total_seconds()) < 600
    assert headers["x-accounts-event-id"] == event.id
    assert headers["content-type"].startswith("multipart/alternative")
    assert mail["text"] and mail["html"]
    assert not unfilled(mail["subject"]) and not unfilled(mail["text"]) and not unfilled(mail["html"])
    return mail


@pytest.mark.parametrize(
    ("purpose", "code", "subject", "in_text", "in_html"),
    [
        (
            "verification",
            "402913",
            "Create an account: your verification code",
            "This code will expire in 30 minutes.",
            "Check your inbox and enter verification code",
        ),
        (
            "password_reset",
            "771204",
            "Reset password: your verification code",
            "Enter the code to reset your password.",
            "Reset password",
        ),
    ],
)
def test_code_email(mailer, infra, unique_email, purpose, code, subject, in_text, in_html):
    mail = well_formed_mail(
        mailer, infra, CODES, "CodeIssued", code_issued(unique_email, code, purpose=purpose)
    )
    assert mail["subject"] == subject
    assert code_in(mail) == code and code in mail["html"]
    assert in_text in mail["text"]
    assert in_html in mail["html"]


def test_welcome_email_invites_to_the_newsletter(mailer, infra, unique_email):
    data = {"account_id": str(uuid.uuid4()), "email": unique_email, "verified_at": now()}
    mail = well_formed_mail(mailer, infra, ACCOUNT_EVENTS, "AccountVerified", data)
    assert mail["subject"] == "You have successfully created your account"
    for wording in (
        "You have successfully created your account",
        "From now on you can download videos from our website",
        "Subscribe to our newsletter",
        "If you would also like to subscribe to the newsletter and receive our latest updates",
    ):
        assert wording in mail["text"] and wording in mail["html"]
    assert "click on the button below." in mail["html"]
    assert f'href="{PORTAL_URL}/newsletter?lang=en"' in mail["html"]
    assert f"{PORTAL_URL}/newsletter" in mail["text"]


def test_password_updated_email_links_back_to_log_in(mailer, infra, unique_email):
    data = {"account_id": str(uuid.uuid4()), "email": unique_email, "reset_at": now()}
    mail = well_formed_mail(mailer, infra, ACCOUNT_EVENTS, "PasswordReset", data)
    assert mail["subject"] == "Your password has been updated"
    assert "Your password has been updated" in mail["text"]
    assert "Your password has been updated" in mail["html"]
    assert "log in with your new password" in mail["text"]
    assert SEED_RETURN_TO_LOG_IN in mail["html"]
    assert f'href="{PORTAL_URL}/login?lang=en"' in mail["html"] and f"{PORTAL_URL}/login" in mail["text"]


def test_the_existing_account_notice_links_to_log_in_and_reset_and_carries_no_code(
    mailer, infra, unique_email
):
    data = {"account_id": str(uuid.uuid4()), "email": unique_email, "attempted_at": now()}
    mail = well_formed_mail(mailer, infra, CODES, "DuplicateSignupAttempted", data)
    assert mail["subject"] == "You already have an account"
    assert "tried to create an account with this email address" in mail["text"]
    assert (
        f'href="{PORTAL_URL}/login?lang=en"' in mail["html"]
        and f"{PORTAL_URL}/password-reset" in mail["text"]
    )
    assert "code" not in data and "no code was sent" in mail["text"]


def test_password_updated_email_returns_to_the_page_the_reset_started_from(mailer, infra, unique_email):
    data = {
        "account_id": str(uuid.uuid4()),
        "email": unique_email,
        "reset_at": now(),
        "return_to": "/videos/42",
    }
    mailer.publish(ACCOUNT_EVENTS, "PasswordReset", data)
    [mail] = infra.inbox.wait_for_messages(unique_email)
    assert (
        f'href="{PORTAL_URL}/videos/42?lang=en"' in mail["html"] and f"{PORTAL_URL}/videos/42" in mail["text"]
    )


def test_newsletter_issue_carries_one_click_unsubscribe(mailer, infra, unique_email):
    unsubscribe_url = f"https://newsletter.example.test/v1/unsubscribe?token={uuid.uuid4().hex}"
    data = newsletter_delivery(
        unique_email,
        subject="Our latest updates: <December> & more",
        text="New this month: the Defence Ministers' meeting.",
        html='<h1 class="issue">Our latest updates</h1><p>New this month &amp; more.</p>',
        unsubscribe_url=unsubscribe_url,
    )
    mail = well_formed_mail(mailer, infra, NEWSLETTER_DELIVERIES, "NewsletterDeliveryRequested", data)
    headers = headers_of(mail)
    assert mail["subject"] == "Our latest updates: <December> & more"
    assert headers["list-unsubscribe"] == f"<{unsubscribe_url}>"
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert "New this month: the Defence Ministers' meeting." in mail["text"]
    assert unsubscribe_url in mail["text"]
    assert '<h1 class="issue">Our latest updates</h1><p>New this month &amp; more.</p>' in mail["html"]
    assert f'href="{unsubscribe_url}"' in mail["html"]
    assert "<title>Our latest updates: &lt;December&gt; &amp; more</title>" in mail["html"]


def test_the_same_event_delivered_twice_sends_one_email(mailer, infra, unique_email):
    twice = mailer.publish(CODES, "CodeIssued", code_issued(unique_email, "111111"), times=2)
    same_account = {"account_id": twice.subject}  # same key: published after it on the same partition
    after = mailer.publish(CODES, "CodeIssued", code_issued(unique_email, "222222") | same_account)
    infra.inbox.wait_for_messages(unique_email, count=2)
    assert event_id_counts(infra.inbox.messages(to=unique_email)) == {twice.id: 1, after.id: 1}
    delivery = mailer.outcome(unique_email, twice.id)
    assert (delivery["status"], delivery["attempts"]) == ("sent", 1)


def test_a_code_to_a_non_ascii_address_goes_out_with_smtputf8(mailer, infra):
    address = f"josé-{uuid.uuid4().hex[:8]}@bücher.example"
    event = mailer.publish(CODES, "CodeIssued", code_issued(address, code="314159"))
    [mail] = infra.inbox.wait_for_messages(address)
    assert mail["to"] == [address]
    assert code_in(mail) == "314159"
    assert headers_of(mail)["x-accounts-event-id"] == event.id
    assert mailer.outcome(address, event.id)["status"] == "sent"


def test_mails_are_written_in_the_accounts_language(mailer, infra, unique_email):
    code = code_issued(unique_email, code="559031") | {"locale": "fr"}
    mailer.publish(CODES, "CodeIssued", code)
    [mail] = infra.inbox.wait_for_messages(unique_email)
    assert mail["subject"] == "Créer un compte : votre code de vérification"
    assert "Votre code de vérification : 559031" in mail["text"] and '<html lang="fr">' in mail["html"]

    # AccountVerified names no locale: the welcome follows the language of the account's code mail.
    verified = {"account_id": code["account_id"], "email": unique_email, "verified_at": now()}
    mailer.publish(ACCOUNT_EVENTS, "AccountVerified", verified)
    welcome, _code = infra.inbox.wait_for_messages(unique_email, count=2)
    assert welcome["subject"] == "Votre compte a bien été créé"
    assert "Abonnez-vous à notre lettre d’information" in welcome["html"]
