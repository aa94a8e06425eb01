"""The benchmarks' own arithmetic: a figure is what its name says (no server is started here)."""

import pytest

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
