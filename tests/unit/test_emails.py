import pytest

from identity.domain.emails import InvalidEmail, normalise_email


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Someone@Example.ORG ", "someone@example.org"),
        ("a@xn--bcher-kva.example", "a@bücher.example"),
        ("a@BÜCHER.example", "a@bücher.example"),
        ("José@bücher.example", "josé@bücher.example"),
        ("jose\u0301@example.org", "josé@example.org"),  # NFC: the combining accent joins its letter
    ],
)
def test_one_spelling_per_mailbox(raw, normalised):
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw", ["a\u200b@example.org", "a@exa\u200dmple.org", "a\x00@example.org", "no-at-sign", "a@b.test"]
)
def test_unusable_addresses_are_refused(raw):
    with pytest.raises(InvalidEmail):
        normalise_email(raw)
