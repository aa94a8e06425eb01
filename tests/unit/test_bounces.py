"""Bounce messages as MTAs really write them (tests/data/dsn/, see its README) read into hard and soft
failures per recipient, and the Message-ID of the mail they return."""

import mailbox
from pathlib import Path

import pytest

from mailer.adapters.bounces import Bounce, parse
from mailer.service_layer.bounces import read_maildir

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "dsn"


@pytest.mark.parametrize(
    ("sample", "bounces"),
    [
        ("postfix.eml", [Bounce("xxxxx@local.ie", True)]),
        ("exim.eml", [Bounce("delangen@its.tudelft.nl", True)]),
        ("exchange.eml", [Bounce("DJBENNETT@IKON.COM", True)]),
        ("exchange-dsn.eml", [Bounce("marcooherbst@cardinal.com", True)]),
        ("sendmail.eml", [Bounce("joem@example.com", True)]),
        ("qmail.eml", [Bounce("psadisc@wwwmail.n-h.de", True)]),
        ("gmail.eml", [Bounce("amd-xen-safety@groups.io", True)]),
        ("delayed.eml", [Bounce("pkocmid@atlas.cz", False)]),
        (
            "postfix-mixed.eml",
            [Bounce("hishealinghand@pastors.com", True), Bounce("spam@michael-mueller-verlag.de", False)],
        ),
    ],
)
def test_each_mtas_bounce_is_read_into_hard_and_soft_failures(sample, bounces):
    assert parse((SAMPLES / sample).read_bytes()).bounces == bounces


@pytest.mark.parametrize(
    ("sample", "message_id"),
    [
        ("gmail.eml", "<60627444-420d-42a1-b7b6-d74dec2479e0@suse.com>"),
        ("postfix.eml", "<p04330122b60007b33216@[17.216.27.250]>"),
        ("sendmail.eml", "<mailman.0.1035637201.19036.mailman-developers@python.org>"),
        ("exim.eml", "<19990920022322.A19735@stereo.rotzorg.org>"),
        ("qmail.eml", "<11A17AA2B9EAD111BCEA00A0C9B4179303385B62@molach.origin.ea.com>"),
        ("exchange.eml", "<5.1.1.5.2.20021004224506.00bd9ff8@mail.chello.se>"),
        ("exchange-dsn.eml", "<000001c64df1$1d48df90$4eb2a8c0@pzi68>"),
        ("forged.eml", "<guessed-0001@multimedia.localhost>"),
    ],
)
def test_the_returned_mails_message_id_is_found(sample, message_id):
    assert message_id in parse((SAMPLES / sample).read_bytes()).original_message_ids


def dsn(*recipients: tuple[str, str]) -> bytes:
    """An RFC 3464 report of one mail to these (address, Status) recipients, all 'failed'."""
    fields = "".join(
        f"Final-Recipient: rfc822; {address}\nAction: failed\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} refused\n\n"
        for address, status in recipients
    )
    return (
        "From: MAILER-DAEMON@mx.example.org\nTo: no-reply@multimedia.localhost\n"
        "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        f"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n{fields}"
        "--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: <sent@multimedia.localhost>\n\n--B--\n"
    ).encode()


def test_a_permanent_failure_that_blames_our_mail_not_the_mailbox_is_soft():
    """Refused as spam or by policy (5.7.x), a full mailbox (5.2.2), the message's content or size: the
    mail failed, but the address works, and is no hard bounce (as at RCPT, adapters/smtp.py)."""
    report = dsn(
        ("gone@example.org", "5.1.1"),
        ("spam-filtered@example.org", "5.7.1"),
        ("full@example.org", "5.2.2"),
        ("disabled@example.org", "5.2.1"),
    )
    assert parse(report).bounces == [
        Bounce("disabled@example.org", True),
        Bounce("gone@example.org", True),
        Bounce("full@example.org", False),
        Bounce("spam-filtered@example.org", False),
    ]


def test_a_forwarded_recipients_failure_that_blames_our_mail_is_soft_under_its_original_address():
    forwarded = dsn(("forwarded@elsewhere.example", "5.7.1")).replace(
        b"Final-Recipient:", b"Original-Recipient: rfc822; ours@example.org\nFinal-Recipient:"
    )
    assert parse(forwarded).bounces == [Bounce("ours@example.org", False)]


def test_a_message_that_is_no_bounce_names_nobody():
    ordinary = b"From: ana@example.org\r\nTo: news@example.org\r\nSubject: thanks\r\n\r\nLovely issue!\r\n"
    assert parse(ordinary).bounces == []


def test_a_reply_names_the_mail_it_answers_by_in_reply_to_and_references():
    reply = (
        b"From: MAILER-DAEMON@example.org\r\nIn-Reply-To: <a.1@multimedia.localhost>\r\n"
        b"References: <b.2@multimedia.localhost> <a.1@multimedia.localhost>\r\n\r\nUser unknown\r\n"
    )
    assert parse(reply).original_message_ids == ["<a.1@multimedia.localhost>", "<b.2@multimedia.localhost>"]


def test_a_message_the_detectors_fail_on_is_filed_as_read_and_flagged_and_the_reading_goes_on(tmp_path):
    folder = tmp_path / "bounces"
    box = mailbox.Maildir(folder, create=True)
    box.add(b"Subject: out of office\r\n\r\nI am away.\r\n")  # no From: flufl's Yale detector raises
    assert read_maildir(None, "mailer.delivery-results.v1", folder) == 1  # type: ignore[arg-type]
    [filed] = mailbox.Maildir(folder).values()
    assert (filed.get_subdir(), filed.get_flags()) == ("cur", "FS")
    assert read_maildir(None, "mailer.delivery-results.v1", folder) == 0  # type: ignore[arg-type]
