"""Streaming latency statistics: numpy's percentiles within the stated error, in constant memory."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from edge.runtime.stats import StreamingStats

BOUND = StreamingStats.REL_ERROR


def test_the_stated_bound_is_half_a_percent():
    assert 0.0049 < BOUND < 0.0050
    assert StreamingStats.BINS == 2083


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "exponential", "bimodal", "few"])
def test_percentiles_are_within_the_stated_error_of_numpy(dist):
    rng = np.random.default_rng(0)
    n = 7 if dist == "few" else 50_000
    x = {"lognormal": lambda: rng.lognormal(1.0, 1.5, n),
         "uniform": lambda: rng.uniform(0.01, 500.0, n),
         "exponential": lambda: rng.exponential(5.0, n),
         "bimodal": lambda: np.concatenate([rng.normal(0.3, 0.02, n // 2), rng.normal(40.0, 3.0, n - n // 2)]),
         "few": lambda: np.array([0.5, 3.0, 3.1, 80.0, 81.0, 900.0, 12_000.0])}[dist]()
    x = np.clip(x, 1e-3, None)  # the relative bound holds from 1e-3 ms
    s = StreamingStats()
    for v in x:
        s.add(v)
    qs = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100]
    for q, got in zip(qs, s.percentiles(qs)):
        want = float(np.percentile(x, q))
        assert abs(got - want) <= BOUND * want * (1 + 1e-9), (q, got, want)
    assert s.count == len(x) and s.mean == pytest.approx(x.mean(), rel=1e-12)
    assert s.min == x.min() and s.max == x.max()
    summ = s.summary()
    assert set(summ) == {"mean", "p50", "p90", "p99", "n"} and summ["n"] == len(x)


def test_extend_equals_add():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.lognormal(0, 2, 5000), [0.0, -1.0, np.nan, np.inf, 2e6]])
    a, b = StreamingStats(), StreamingStats()
    for v in x:
        a.add(v)
    b.extend(x)
    assert a.percentiles(range(0, 101, 5)) == pytest.approx(b.percentiles(range(0, 101, 5)), rel=1e-12)
    assert (a.count, a.rejected, a.min, a.max) == (b.count, b.rejected, b.min, b.max)
    assert a.total == pytest.approx(b.total, rel=1e-12)


def _deep_size(s: StreamingStats) -> int:
    return sys.getsizeof(s) + s._counts.nbytes + sum(sys.getsizeof(getattr(s, k)) for k in s.__slots__)


def test_memory_does_not_grow_with_a_million_values():
    s = StreamingStats()
    for v in (0.5, 5.0, 50.0):
        s.add(v)
    before, bins = _deep_size(s), s.nbytes
    rng = np.random.default_rng(2)
    x = rng.lognormal(1.0, 2.0, 1_000_000)
    for v in x[:100_000]:  # the per-frame path
        s.add(v)
    s.extend(x[100_000:])
    assert s.count == 1_000_003
    assert s.nbytes == bins < 20_000  # the histogram is a fixed array of 2,085 counts
    assert _deep_size(s) <= before + 64  # at most a wider float/int object, never a list
    assert not any(isinstance(getattr(s, k), (list, dict, tuple)) for k in s.__slots__)


def test_empty_and_single_value():
    s = StreamingStats()
    assert s.count == 0 and s.mean is None and s.summary() is None
    assert s.percentiles([50, 99]) == [None, None]
    s.add(7.25)
    assert s.percentiles([0, 50, 99, 100]) == [7.25, 7.25, 7.25, 7.25]  # clamped to min and max
    assert s.summary() == {"mean": 7.25, "p50": 7.25, "p90": 7.25, "p99": 7.25, "n": 1}


def test_zeros_nan_negative_and_huge_values_never_crash():
    s = StreamingStats()
    for v in (0.0, 0.0, 0.0):
        s.add(v)
    assert s.summary() == {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "n": 3}  # recorded poses: 0 ms
    for v in (float("nan"), float("inf"), -float("inf")):
        s.add(v)
    assert s.rejected == 3 and s.count == 3
    s.add(-2.0)  # a clock step: counted as 0
    assert s.count == 4 and s.min == 0.0 and s.mean == 0.0
    s.add(5e7)  # beyond the last bin: still counted, percentiles clamp to the max
    assert s.percentile(100) == 5e7 and s.max == 5e7
    s.extend([])
    s.extend(np.array([np.nan]))
    assert s.count == 5 and s.rejected == 4
    tiny = StreamingStats([1e-5, 2e-5, 4e-5])  # below the first bin: absolute error under 1e-3 ms
    assert abs(tiny.percentile(50) - 2e-5) < 1e-3
    assert all(math.isfinite(v) for v in s.percentiles(range(101)))
