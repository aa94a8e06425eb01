import hashlib

import pytest

from identity.adapters.ratelimits import RateLimiter
from identity.domain.limits import Decision, Limit, LoginThrottle, judge_window
from identity.settings import RateLimits


def test_a_limit_is_written_hits_per_seconds():
    assert Limit.parse("20/3600") == Limit(20, 3600)
    assert str(Limit(5, 60)) == "5/60"


@pytest.mark.parametrize("text", ["20", "a/b", "0/60", "5/0", "1/2/3", ""])
def test_a_malformed_limit_is_a_clear_error(text):
    with pytest.raises(ValueError, match="rate limit"):
        Limit.parse(text)


def test_the_window_allows_up_to_the_limit_then_says_when_to_retry():
    limit = Limit(3, 60)
    assert judge_window(limit, 3, 10.0) == Decision(True)
    assert judge_window(limit, 4, 10.2) == Decision(False, 50)
    assert judge_window(limit, 9, 59.9) == Decision(False, 1)


def test_login_delay_doubles_after_the_free_failures_up_to_the_cap():
    throttle = LoginThrottle(free_failures=3, base_delay_s=2, max_delay_s=60)
    assert [throttle.delay_after(n) for n in range(1, 10)] == [0, 0, 2, 4, 8, 16, 32, 60, 60]
    assert throttle.delay_after(10_000) == 60


def test_rate_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("IDENTITY_RATE_LIMIT_LOGIN_PER_IP", "7/30")
    limits = RateLimits.from_env()
    assert limits.login_per_ip == Limit(7, 30)
    assert limits.register_per_ip == RateLimits().register_per_ip


def test_a_bad_rate_limit_variable_stops_the_service_with_its_name(monkeypatch):
    monkeypatch.setenv("IDENTITY_RATE_LIMIT_REGISTER_PER_EMAIL", "lots")
    with pytest.raises(ValueError, match="IDENTITY_RATE_LIMIT_REGISTER_PER_EMAIL.*lots"):
        RateLimits.from_env()


def test_a_counters_key_cannot_be_read_back_without_the_service_key():
    """An unkeyed hash of an IPv4 address is undone by hashing all four billion of them."""
    ip = "203.0.113.7"
    ours, theirs = RateLimiter(b"one key"), RateLimiter(b"another key")
    assert ours.bucket("login:per_ip", ip) == ours.bucket("login:per_ip", ip)
    assert ours.bucket("login:per_ip", ip) != theirs.bucket("login:per_ip", ip)
    assert ours.bucket("login:per_ip", ip) != hashlib.sha256(f"login:per_ip\0{ip}".encode()).digest()
