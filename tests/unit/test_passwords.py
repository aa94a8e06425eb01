import pytest

from identity.domain.passwords import PasswordPolicy

SEED = PasswordPolicy()
GOOD = "Correct-Horse-9!"


def test_a_password_meeting_every_rule_is_accepted():
    assert SEED.violations(GOOD) == []


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Short-9!", "Use at least 12 characters."),
        ("Correct Horse-9!", "Do not use spaces."),
        ("correct-horse-9!", "Include an uppercase letter."),
        ("CORRECT-HORSE-9!", "Include a lowercase letter."),
        ("Correct-Horse-X!", "Include a number."),
        ("CorrectHorse9999", "Include a symbol, such as ! ? # or %."),
        ("Aa1!" * 33, "Use at most 128 characters."),
    ],
)
def test_each_rule_is_reported_alone(password, broken):
    assert SEED.violations(password) == [broken]


def test_every_broken_rule_is_listed_at_once():
    assert SEED.violations("abc def") == [
        "Use at least 12 characters.",
        "Do not use spaces.",
        "Include an uppercase letter.",
        "Include a number.",
        "Include a symbol, such as ! ? # or %.",
    ]


def test_128_characters_are_accepted_and_never_truncated():
    assert SEED.violations("Aa1!" * 32) == []


def test_nist_profile_checks_length_only_and_allows_spaces():
    nist = PasswordPolicy.named("nist")
    assert nist.violations("correct horse battery") == []
    assert nist.violations("short") == ["Use at least 8 characters."]


def test_an_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown password policy 'lax'"):
        PasswordPolicy.named("lax")
