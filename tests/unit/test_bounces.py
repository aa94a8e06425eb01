"""Bounce messages as MTAs really write them (tests/data/dsn/, see its README) read into hard and soft
failures per recipient, and the Message-ID of the mail they return."""

from pathlib import Path

import pytest

from mailer.adapters.bounces import Bounce, parse

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
    ],
)
def test_the_returned_mails_message_id_is_found(sample, message_id):
    assert message_id in parse((SAMPLES / sample).read_bytes()).original_message_ids


def test_a_message_that_is_no_bounce_names_nobody():
    ordinary = b"From: ana@example.org\r\nTo: news@example.org\r\nSubject: thanks\r\n\r\nLovely issue!\r\n"
    assert parse(ordinary).bounces == []
