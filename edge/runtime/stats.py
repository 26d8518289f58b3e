"""Latency statistics in constant memory, for runs of any length.

The runtime measures every frame and every update; keeping each measurement (as lists did)
grows memory with the run (about 63 bytes a frame: 185 to 226 MiB over 300,000 frames).
:class:`StreamingStats` keeps a fixed log-spaced histogram instead, so a run of a day
costs the same few kilobytes as a run of a minute.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

import numpy as np


class StreamingStats:
    """Count, mean, max and percentiles of a stream of non-negative values (milliseconds).

    Values are counted in a fixed histogram of log-spaced bins: bin ``i`` holds
    ``[lo * g**i, lo * g**(i+1))`` with ``lo = 1e-3``, growth ``g = 1.01`` (1% relative
    width) up to ``hi = 1e6`` (2,083 bins, 16.7 kB, never more), plus one bin below ``lo``
    (zeros, typically: a recorded pose takes no time) and one at or above ``hi``.

    **Error bound.** A percentile is numpy's definition (``np.percentile``, linear
    interpolation between the two order statistics around rank ``q/100 * (n-1)``), with each
    order statistic replaced by its bin's geometric centre, clamped to the exact minimum and
    maximum seen. For values in ``[1e-3, 1e6)`` ms the result is within a relative error of
    ``sqrt(1.01) - 1 = 0.499%`` of numpy's on the same values (:data:`REL_ERROR`); below
    ``1e-3`` ms the absolute error is under ``1e-3`` ms (the bin reports the mean of the
    values it holds, so all-zero input gives exactly 0). ``count``, ``mean`` (a running sum),
    ``min`` and ``max`` are exact.

    **Bad input.** NaN and infinities are not counted (``rejected`` says how many);
    negative values (a clock step) are clamped to 0.
    """

    LO = 1e-3
    HI = 1e6
    GROWTH = 1.01
    #: Relative error bound of a percentile for values in [LO, HI).
    REL_ERROR = math.sqrt(GROWTH) - 1.0

    _LOG_LO = math.log(LO)
    _INV_LOG_G = 1.0 / math.log(GROWTH)
    #: Log-spaced bins between LO and HI (the under- and overflow bins are extra).
    BINS = int(math.ceil(math.log(HI / LO) / math.log(GROWTH)))

    __slots__ = ("_counts", "count", "total", "min", "max", "rejected", "_under_sum")

    def __init__(self, values: Optional[Iterable[float]] = None):
        # index 0: below LO, 1..BINS: the log bins, BINS + 1: at or above HI
        self._counts = np.zeros(self.BINS + 2, np.int64)
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.rejected = 0
        self._under_sum = 0.0
        if values is not None:
            self.extend(values)

    def _index(self, v: float) -> int:
        if v < self.LO:
            return 0
        if v >= self.HI:
            return self.BINS + 1
        return min(int((math.log(v) - self._LOG_LO) * self._INV_LOG_G), self.BINS - 1) + 1

    def add(self, value: float) -> None:
        """Count one value (NaN and infinities are rejected, negatives count as 0)."""
        v = float(value)
        if not math.isfinite(v):
            self.rejected += 1
            return
        if v < 0.0:
            v = 0.0
        self._counts[self._index(v)] += 1
        if v < self.LO:
            self._under_sum += v
        self.count += 1
        self.total += v
        if v < self.min:
            self.min = v
        if v > self.max:
            self.max = v

    def extend(self, values: Iterable[float]) -> None:
        """Count many values at once (vectorised; the same result as :meth:`add` on each)."""
        a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, np.float64).ravel()
        good = np.isfinite(a)
        self.rejected += int((~good).sum())
        a = np.maximum(a[good], 0.0)
        if not a.size:
            return
        idx = np.zeros(a.size, np.int64)
        mid = (a >= self.LO) & (a < self.HI)
        idx[mid] = np.minimum(((np.log(a[mid]) - self._LOG_LO) * self._INV_LOG_G).astype(np.int64),
                              self.BINS - 1) + 1
        idx[a >= self.HI] = self.BINS + 1
        np.add.at(self._counts, idx, 1)
        self._under_sum += float(a[a < self.LO].sum())
        self.count += int(a.size)
        self.total += float(a.sum())
        self.min = min(self.min, float(a.min()))
        self.max = max(self.max, float(a.max()))

    def __len__(self) -> int:
        return self.count

    @property
    def mean(self) -> Optional[float]:
        return self.total / self.count if self.count else None

    def _value(self, i: int) -> float:
        """The representative of bin ``i``, clamped to the values seen."""
        if i == 0:
            v = self._under_sum / self._counts[0]
        elif i == self.BINS + 1:
            v = self.max
        else:
            v = math.exp(self._LOG_LO + (i - 0.5) / self._INV_LOG_G)
        return min(max(v, self.min), self.max)

    def percentiles(self, qs: Iterable[float]) -> list[Optional[float]]:
        """Several percentiles (0-100) from one pass over the bins; None when empty."""
        qs = list(qs)
        if not self.count:
            return [None for _ in qs]
        cum = np.cumsum(self._counts)
        out: list[Optional[float]] = []
        for q in qs:
            rank = min(max(float(q), 0.0), 100.0) / 100.0 * (self.count - 1)
            lo_rank, frac = int(math.floor(rank)), rank - math.floor(rank)
            # the bin holding the order statistic with 0-based rank r is the first with cum > r
            a = self._value(int(np.searchsorted(cum, lo_rank, side="right")))
            if frac > 0:
                b = self._value(int(np.searchsorted(cum, lo_rank + 1, side="right")))
                a = a + frac * (b - a)
            out.append(a)
        return out

    def percentile(self, q: float) -> Optional[float]:
        return self.percentiles([q])[0]

    def summary(self, nd: int = 3) -> Optional[dict[str, float]]:
        """``{"mean", "p50", "p90", "p99", "n"}`` as the run summary reports it; None when empty."""
        if not self.count:
            return None
        p50, p90, p99 = self.percentiles((50, 90, 99))
        return {"mean": round(float(self.mean), nd), "p50": round(float(p50), nd),  # type: ignore[arg-type]
                "p90": round(float(p90), nd), "p99": round(float(p99), nd), "n": int(self.count)}

    @property
    def nbytes(self) -> int:
        """Memory held by the histogram (constant: it does not grow with the values)."""
        return int(self._counts.nbytes)

    def __repr__(self) -> str:
        return f"StreamingStats(n={self.count}, mean={self.mean}, max={self.max if self.count else None})"
