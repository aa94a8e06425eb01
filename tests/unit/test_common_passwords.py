import pytest

from identity.domain.passwords import TOO_COMMON, PasswordPolicy, common_passwords


def test_the_shipped_list_is_loaded_once_and_lower_case():
    listed = common_passwords()
    assert listed is common_passwords()
    assert 5_000 < len(listed) < 30_000
    assert "password1" in listed and "iloveyou" in listed
    assert all(entry == entry.lower() and not entry.startswith("#") for entry in listed)


def test_a_common_password_is_refused_whatever_its_case():
    nist = PasswordPolicy.named("nist", common_passwords())
    assert nist.violations("PassWord1") == [TOO_COMMON]
    assert nist.violations("correct horse battery staple") == []


def test_the_seed_profile_lists_the_common_check_with_the_other_rules():
    seed = PasswordPolicy.named("seed", common_passwords())
    assert seed.violations("password") == [
        "Use at least 12 characters.",
        "Include an uppercase letter.",
        "Include a number.",
        "Include a symbol, such as ! ? # or %.",
        TOO_COMMON,
    ]


@pytest.mark.parametrize("password", ["Password123!", "!!Iloveyou2024", "P@ssw0rd-2024?", "Football#1999"])
def test_a_common_password_with_digits_and_symbols_around_it_is_still_common(password):
    seed = PasswordPolicy.named("seed", common_passwords())
    assert seed.violations(password) == [TOO_COMMON]


@pytest.mark.parametrize("password", ["Correct-Horse-9!", "Pass-word-123!x", "My1Password!Is-Long"])
def test_a_listed_word_inside_a_longer_password_is_fine(password):
    assert PasswordPolicy.named("seed", common_passwords()).violations(password) == []
