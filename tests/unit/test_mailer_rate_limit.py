"""The mailer's token bucket, on a fake clock."""

import pytest

from mailer.adapters.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_burst_passes_then_sends_are_spaced_by_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == []
    bucket.acquire()
    bucket.acquire()
    assert clock.slept == pytest.approx([0.1, 0.1])


def test_idle_time_refills_up_to_the_burst_only():
    clock = FakeClock()
    bucket = TokenBucket(5, burst=2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()
    clock.now += 60
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == pytest.approx([0.2])


def test_zero_means_unlimited():
    clock = FakeClock()
    bucket = TokenBucket(0, clock=clock, sleep=clock.sleep)
    for _ in range(10_000):
        bucket.acquire()
    assert clock.slept == []


def test_a_negative_rate_is_refused():
    with pytest.raises(ValueError, match="negative"):
        TokenBucket(-1)
