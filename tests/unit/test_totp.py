"""The second factor's rules: TOTP steps (drift, single use) and recovery codes."""

from datetime import UTC, datetime, timedelta

import pyotp

from identity.domain import totp

NOW = datetime(2026, 12, 4, 9, 0, 10, tzinfo=UTC)
SECRET = totp.new_secret()


def code_at(moment: datetime) -> str:
    return pyotp.TOTP(SECRET).at(moment)


def test_the_current_code_is_accepted_for_its_step():
    step = pyotp.TOTP(SECRET).timecode(NOW)
    assert totp.accepted_step(SECRET, code_at(NOW), NOW, last_step=0) == step


def test_one_step_of_drift_either_way_is_allowed_and_no_more():
    for offset, accepted in ((-30, True), (30, True), (-60, False), (60, False)):
        found = totp.accepted_step(SECRET, code_at(NOW + timedelta(seconds=offset)), NOW, last_step=0)
        assert (found is not None) is accepted, offset


def test_a_code_is_never_accepted_twice_nor_an_older_one_after_a_newer():
    step = totp.accepted_step(SECRET, code_at(NOW), NOW, last_step=0)
    assert step is not None
    assert totp.accepted_step(SECRET, code_at(NOW), NOW, last_step=step) is None
    assert totp.accepted_step(SECRET, code_at(NOW - timedelta(seconds=30)), NOW, last_step=step) is None
    assert totp.accepted_step(SECRET, code_at(NOW + timedelta(seconds=30)), NOW, last_step=step) == step + 1


def test_a_wrong_code_is_refused():
    right = code_at(NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.accepted_step(SECRET, wrong, NOW, last_step=0) is None


def test_the_provisioning_uri_names_the_issuer_and_the_account():
    uri = totp.provisioning_uri(SECRET, "ana@example.org")
    assert uri.startswith("otpauth://totp/Multimedia%20Accounts:ana%40example.org?secret=" + SECRET)


def test_recovery_codes_are_distinct_and_their_hash_ignores_spelling():
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == totp.RECOVERY_CODES
    code = codes[0]
    assert totp.recovery_code_hash(code) == totp.recovery_code_hash(code.upper().replace("-", " "))
    assert totp.recovery_code_hash(code) != totp.recovery_code_hash(codes[1])
    assert not totp.looks_like_totp(code) and totp.looks_like_totp("012345")
