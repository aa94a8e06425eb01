"""The mailer's event handlers with a fake dispatcher: what a newsletter event becomes, and which
events are refused at once (dead-lettered) instead of retried."""

import email
import email.policy
import json
from concurrent.futures import Future
from importlib.resources import files

import pytest

from accounts_common.codecrypt import DEV_KEY, CodeCipher
from accounts_common.events import CloudEvent, InvalidEvent, parse_event
from mailer.adapters.templates import Templates
from mailer.domain.messages import brands
from mailer.service_layer.dispatch import PendingEmail
from mailer.service_layer.handlers import Mailer


class FakeDispatcher:
    def __init__(self) -> None:
        self.submitted: list[PendingEmail] = []

    def submit(self, email: PendingEmail) -> Future[None]:
        self.submitted.append(email)
        return email.future


def mailer(dispatcher: FakeDispatcher) -> Mailer:
    return Mailer(
        dispatcher=dispatcher,  # type: ignore[arg-type]
        templates=Templates("en"),
        cipher=CodeCipher([DEV_KEY]),
        brands=brands(
            "Accounts <no-reply@multimedia.localhost>",
            "support@multimedia.localhost",
            {"en": "Accounts"},
            "en",
        ),
        delivery_log=None,  # type: ignore[arg-type]
        portal_url="https://portal.example.org",
    )


def newsletter_event(**changes: str) -> CloudEvent:
    example = (
        files("accounts_common.events").joinpath("examples/NewsletterDeliveryRequested.json").read_text()
    )
    return parse_event(json.dumps(json.loads(example) | changes))


def test_a_newsletter_event_whose_subject_is_no_account_id_is_invalid_not_retried():
    dispatcher = FakeDispatcher()
    event = newsletter_event(subject="not-a-uuid")
    with pytest.raises(InvalidEvent, match="not an account id"):
        mailer(dispatcher).newsletter_delivery_requested(None, event, event.data)  # type: ignore[arg-type]
    assert dispatcher.submitted == []


def test_a_newsletter_mail_offers_the_one_click_url_alone_to_unsubscribe():
    dispatcher = FakeDispatcher()
    event = newsletter_event()
    del event.data["subscribed_at"]  # as a test send's: no subscription for the database to record
    mailer(dispatcher).newsletter_delivery_requested(None, event, event.data)  # type: ignore[arg-type]
    [pending] = dispatcher.submitted
    headers = email.message_from_bytes(pending.compose().raw, policy=email.policy.default)
    assert headers["List-Unsubscribe"] == f"<{event.data['unsubscribe_url']}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto" not in str(headers["List-Unsubscribe"])
