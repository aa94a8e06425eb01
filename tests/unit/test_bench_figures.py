"""The benchmarks' own arithmetic: a figure is what its name says (no server is started here)."""

import pytest

from bench import newsletter_fanout, outbox_backlog, registration_throughput, signup_load
from bench.signup_load import Run
from bench.support import percentile


@pytest.mark.parametrize(
    ("samples", "fraction", "expected"),
    [
        ([1, 2, 3, 4, 5], 0.50, 3),  # the median of five
        (list(range(1, 10)), 0.50, 5),  # of nine
        (list(range(1, 151)), 0.99, 149),  # nearest rank: the 149th of 150 (148.5 rounds up)
        (list(range(1, 11)), 0.90, 9),
        ([7], 0.99, 7),
    ],
)
def test_a_percentile_is_the_nearest_rank(samples, fraction, expected):
    assert percentile([float(s) for s in reversed(samples)], fraction) == expected


def test_the_peak_rate_is_never_one_that_did_not_hold(monkeypatch):
    """Searched up to a rate that held, the confirming runs may all fail (the stack fell over
    meanwhile): that is no sustainable rate to report."""

    def open_loop(url: str, rate: float, seconds: float) -> Run:
        holds = seconds < 60 and rate <= 40  # the search and the refining hold up to 40/s; nothing after
        return Run(rate, seconds, latencies=[0.01 if holds else 1.0], failures=0 if holds else 1)

    monkeypatch.setattr(signup_load, "open_loop", open_loop)
    with pytest.raises(SystemExit, match="no rate held"):
        signup_load.peak_rate("http://127.0.0.1:1", raw=100.0, hold=15.0, confirm=60.0)


def test_the_mailers_rate_runs_from_the_first_mail_in_the_sink_to_the_last():
    """Not from the first mail seen once the fan-out has ended: the mailers send while it runs."""
    mails = [
        {"id": "b", "to": ["b@example.org"], "subject": "s", "received_at": "2026-12-07T12:00:03.000Z"},
        {"id": "a", "to": ["a@example.org"], "subject": "s", "received_at": "2026-12-07T12:00:01.000Z"},
        {"id": "c", "to": ["c@example.org"], "subject": "s", "received_at": "2026-12-07T12:00:01.500Z"},
    ]
    assert newsletter_fanout.mail_rate(mails) == pytest.approx(1.0)  # 2 mails after the first, in 2 s


class SteppingClock:
    """time.monotonic() of a client whose every request takes `step` seconds (and nothing else does)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def monotonic(self) -> float:
        return self.now

    def call(self, method: str, url: str, body: object) -> tuple[int, dict[str, str]]:
        self.now += self.step
        return 202, {}


def test_the_registration_rate_counts_the_registrations_that_ended_in_the_window(monkeypatch):
    """Every registration answered between the warm-up's end and the deadline, the one that began in
    the warm-up too: the rate of a steady stream is its rate, not one request a client lower."""
    clock = SteppingClock(1.5)
    monkeypatch.setattr(registration_throughput, "time", clock)
    monkeypatch.setattr(registration_throughput, "call", clock.call)
    monkeypatch.setattr(registration_throughput, "CLIENTS", 1)
    monkeypatch.setattr(registration_throughput, "WARMUP_S", 2.0)
    # Answers at 1.5, 3, 4.5, …, 12: the window from 2 to 12 holds seven of them.
    assert registration_throughput.registration_rate("http://127.0.0.1:1", 10.0) == (0.7, 0)


class StuckOutbox:
    """A connection to an outbox whose count of unpublished events never goes down (no relay)."""

    def __init__(self, left: int) -> None:
        self.left = left

    def execute(self, query: str, *params: object) -> "StuckOutbox":
        return self

    def fetchone(self) -> tuple[int]:
        return (self.left,)


class SleepingClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        assert self.now < 3600, "still waiting for the outbox after an hour"


def test_an_outbox_that_does_not_drain_ends_the_backlog_bench_with_a_reason(monkeypatch):
    monkeypatch.setattr(outbox_backlog, "time", SleepingClock())
    with pytest.raises(SystemExit, match="not shrunk for 60 s: is the relay publishing"):
        outbox_backlog.wait_drained(StuckOutbox(120), 120)  # type: ignore[arg-type]
