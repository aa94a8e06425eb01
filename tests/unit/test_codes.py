import uuid
from datetime import UTC, datetime, timedelta

from identity.domain.codes import (
    CodeOutcome,
    GuessLog,
    Purpose,
    StoredCode,
    code_mac,
    decoy_mac,
    email_key,
    generate_code,
    judge,
)

KEY = b"test-key"
REGISTRATION = str(uuid.uuid4())
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def stored(code: str, *, attempts: int = 1, expires_in: float = 1800) -> StoredCode:
    return StoredCode(
        code_mac=code_mac(KEY, REGISTRATION, Purpose.VERIFICATION, code),
        expires_at=NOW + timedelta(seconds=expires_in),
        attempts=attempts,
    )


def attempt(code: str) -> bytes:
    return code_mac(KEY, REGISTRATION, Purpose.VERIFICATION, code)


def test_codes_are_six_digits_and_vary():
    codes = {generate_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150


def test_the_right_code_in_time_is_accepted():
    assert judge(stored("123456"), attempt("123456"), now=NOW, max_attempts=5) is CodeOutcome.ACCEPTED


def test_a_wrong_code_is_invalid():
    assert judge(stored("123456"), attempt("654321"), now=NOW, max_attempts=5) is CodeOutcome.INVALID


def test_a_code_is_bound_to_its_account_and_purpose():
    other_account = code_mac(KEY, uuid.uuid4(), Purpose.VERIFICATION, "123456")
    other_purpose = code_mac(KEY, REGISTRATION, Purpose.PASSWORD_RESET, "123456")
    assert judge(stored("123456"), other_account, now=NOW, max_attempts=5) is CodeOutcome.INVALID
    assert judge(stored("123456"), other_purpose, now=NOW, max_attempts=5) is CodeOutcome.INVALID


def test_a_code_expires_at_its_expiry_time():
    just_expired = stored("123456", expires_in=0)
    assert judge(just_expired, attempt("123456"), now=NOW, max_attempts=5) is CodeOutcome.EXPIRED
    almost = stored("123456", expires_in=1)
    assert judge(almost, attempt("123456"), now=NOW, max_attempts=5) is CodeOutcome.ACCEPTED


def test_the_fifth_attempt_still_counts_and_the_sixth_is_locked_even_when_right():
    assert (
        judge(stored("123456", attempts=5), attempt("123456"), now=NOW, max_attempts=5)
        is CodeOutcome.ACCEPTED
    )
    assert (
        judge(stored("123456", attempts=6), attempt("123456"), now=NOW, max_attempts=5) is CodeOutcome.LOCKED
    )


def test_no_live_code_means_invalid_so_a_spent_code_never_works_again():
    assert judge(None, attempt("123456"), now=NOW, max_attempts=5) is CodeOutcome.INVALID


# While the email's guessing is locked even the right code is refused: service_layer.codes.judge_attempt
# (tests/integration/test_identity_signup.py).


def failures(times: list[datetime], cap: int = 10) -> GuessLog:
    log = GuessLog()
    for time in times:
        assert not log.locked(time)
        log = log.after_failure(time, DAY, cap)
    return log


def test_ten_wrong_codes_in_a_day_lock_for_a_day_from_the_tenth():
    log = failures([NOW + timedelta(hours=hour) for hour in range(10)])
    tenth = NOW + timedelta(hours=9)
    assert log.locked(tenth + DAY - timedelta(seconds=1))
    assert not log.locked(tenth + DAY)
    assert not failures([tenth + DAY], cap=10).locked(tenth + DAY)  # counting starts over


def test_no_window_boundary_lets_more_than_ten_through():
    """One wrong code, then nine a minute before a fixed window from the first would end: the lock
    holds a day from the tenth, not until that window's end."""
    log = failures([NOW] + [NOW + DAY - timedelta(minutes=1)] * 9)
    assert log.locked(NOW + DAY + timedelta(hours=23))


def test_wrong_codes_older_than_a_day_no_longer_count():
    log = failures([NOW] * 9 + [NOW + DAY + timedelta(seconds=1)])
    assert not log.locked(NOW + DAY + timedelta(seconds=2))
    assert len(log.failed_at) == 1


def test_a_decoy_matches_no_code():
    decoy = StoredCode(code_mac=decoy_mac(), expires_at=NOW + timedelta(minutes=30), attempts=1)
    assert all(
        judge(decoy, attempt(f"{n:06d}"), now=NOW, max_attempts=5) is CodeOutcome.INVALID for n in range(1000)
    )


def test_the_email_key_is_the_same_for_any_case_and_differs_between_emails():
    assert (
        email_key(KEY, "A@example.org") == email_key(KEY, "a@example.org") != email_key(KEY, "b@example.org")
    )
