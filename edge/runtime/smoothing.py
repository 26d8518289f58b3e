"""Smoothing for a live display: landmarks (One Euro) and style decisions (EMA + hysteresis).

The classifier's own input is band-limited by :mod:`edge.features`, so these filters are
about what a person sees: a skeleton that does not jitter when the dancer stands still but
follows fast moves, and a style label and recommendation list that do not flicker between
two styles on consecutive updates.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np


class OneEuroFilter:
    """The One Euro filter (Casiez et al., CHI 2012), vectorised over any array shape.

    A first-order low-pass whose cut-off rises with speed: ``min_cutoff`` (Hz) removes jitter
    at rest, ``beta`` (Hz per unit/s) trades it for lag when moving fast. Timestamps are the
    frames' own (variable rates are fine). Entries that are NaN are passed through and
    restart their filter.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 5.0, d_cutoff: float = 1.0):
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None
        self._t: Optional[float] = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
        tau = 1.0 / (2 * math.pi * np.asarray(cutoff, np.float64))
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or t <= self._t or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = t - self._t
        fresh = ~np.isfinite(self._x) & np.isfinite(x)
        dx = np.where(np.isfinite(x) & np.isfinite(self._x), (x - self._x) / dt, 0.0)
        a_d = self._alpha(self.d_cutoff, dt)
        edx = a_d * dx + (1 - a_d) * self._dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(edx), dt)
        out = np.where(fresh, x, a * x + (1 - a) * self._x)
        out = np.where(np.isfinite(x), out, np.nan)
        self._x, self._dx, self._t = out, np.where(np.isfinite(edx), edx, 0.0), float(t)
        return out.copy()


class StyleSmoother:
    """Exponential smoothing of style probabilities, with hysteresis on the shown decision.

    ``update(probs, unsure)`` blends the new calibrated probabilities into a running average
    (weight ``alpha``) and does the same with the unsure flag. The shown decision (a style,
    or ``None`` for unsure) changes only when another candidate has led for ``hold``
    consecutive updates and, for a style-to-style switch, beats the shown style by
    ``margin`` in the smoothed probabilities. The first decision is immediate.
    """

    def __init__(self, labels: Sequence[str], alpha: float = 0.5, margin: float = 0.1, hold: int = 2):
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.labels = list(labels)
        self.alpha = float(alpha)
        self.margin = float(margin)
        self.hold = max(int(hold), 1)
        self.reset()

    def reset(self) -> None:
        self.probs: Optional[np.ndarray] = None
        self._unsure = 0.0
        self.shown: Optional[str] = None
        self.started = False
        self._candidate: Optional[str] = None
        self._streak = 0

    def update(self, probs: np.ndarray, unsure: bool) -> tuple[np.ndarray, Optional[str]]:
        """(smoothed probabilities, shown style or None when unsure)."""
        p = np.asarray(probs, np.float64).ravel()
        if self.probs is None:
            self.probs, self._unsure = p.copy(), float(unsure)
        else:
            self.probs = self.alpha * p + (1 - self.alpha) * self.probs
            self._unsure = self.alpha * float(unsure) + (1 - self.alpha) * self._unsure
        self.probs = self.probs / self.probs.sum()
        top = self.labels[int(np.argmax(self.probs))]
        candidate = None if self._unsure > 0.5 else top
        if not self.started:
            self.shown, self.started = candidate, True
            self._candidate, self._streak = None, 0
            return self.probs.copy(), self.shown
        if candidate == self.shown:
            self._candidate, self._streak = None, 0
            return self.probs.copy(), self.shown
        clear = True
        if candidate is not None and self.shown is not None:
            gap = self.probs[self.labels.index(candidate)] - self.probs[self.labels.index(self.shown)]
            clear = gap > self.margin
        if not clear:
            self._candidate, self._streak = None, 0
            return self.probs.copy(), self.shown
        self._streak = self._streak + 1 if candidate == self._candidate else 1
        self._candidate = candidate
        if self._streak >= self.hold:
            self.shown, self._candidate, self._streak = candidate, None, 0
        return self.probs.copy(), self.shown
