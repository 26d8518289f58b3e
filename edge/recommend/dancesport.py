"""Which dance a tempo suits: the published DanceSport tempo ranges, a 3-vs-4 beats-per-bar
estimate from the accent pattern, and a tempo-to-style fit.

**The table.** :data:`DANCESPORT_TEMPOS` holds the tempos the World DanceSport Federation's
competition rules prescribe for the ten standard and Latin dances, in *bars* per minute
with the meter (the same figures are used by most national federations, e.g. the ISTD and
the DTV): waltz 28-30 (3/4), tango 31-33, viennese waltz 58-60 (3/4), slow foxtrot 28-30,
quickstep 50-52, samba 50-52 (2/4), cha-cha 30-32, rumba 25-27, paso doble 60-62 (2/4),
jive 42-44 (4/4 unless said). :data:`SOCIAL_TEMPOS` adds salsa and bachata, which have no
rulebook: their ranges are the ones *commonly cited* by teachers and DJs (salsa roughly
150-220 beats per minute, bachata roughly 120-150), approximate, and marked
``dancesport=False``. A tempo in beats per minute is ``bars * beats_per_bar``.

**Beats per bar** (:func:`estimate_beats_per_bar`): the strength of the music's onsets at
each beat, folded at 3 and at 4 beats: the meter whose best phase (the downbeat) stands out
most from the other beats, in units of its standard error, wins. A 2/4 pattern (accent
every other beat) folds at 4 with a contrast too, and none at 3, so duple meters read as 4.
Limits, stated plainly: it needs the beats in phase (a tracker locked on the off-beat or at
half/double tempo folds the wrong thing: at half tempo a 4/4 song has 2 beats a bar, which
folds as 4 and is fine, but a waltz at double tempo has 6, which folds as 3 and is also
fine, while a waltz tracked at 1.5x is lost); it needs a few bars with an accent (8 beats at
the least; a confidence below ~2 is a guess); music whose accents are not in its onset
strength (legato strings, a waltz whose "2 3" chords are as loud as its "1" bass) reads as
either; 6/8 and other compound meters are not modelled (6/8 folds as 3).

**The fit** (:func:`tempo_style_fit`): for each style, the tempo in bars per minute is
``bpm / beats_per_bar(style)``, its distance ``d`` to the style's range (0 inside), and the
fit ``exp(-d^2 / (2 sigma^2))`` with ``sigma`` :data:`SIGMA_BARS` bars per minute (1 bar
out: 0.80, 2 bars: 0.41, 3 bars: 0.14). Tempo estimators often report half or double the
tempo a dancer counts, so the estimate is also read at x1/2 and x2, worth
:data:`OCTAVE_WEIGHT` (0.5) of a direct match; the best reading counts. With a meter
estimate, styles of the other meter family (triple: 3; duple: 2 and 4) are multiplied by
:data:`METER_MISMATCH` (0.2) instead of being ruled out, because the meter estimate is
itself uncertain. Several styles share tempos (rumba's 100-108 BPM is samba's, and
quickstep's at double), so the fit ranks candidates; it cannot name a dance on its own.

numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

__all__ = [
    "TempoRange", "DANCESPORT_TEMPOS", "SOCIAL_TEMPOS", "ALL_TEMPOS", "tempo_table", "Meter",
    "beat_strengths", "estimate_beats_per_bar", "tempo_style_fit", "best_style",
    "SIGMA_BARS", "OCTAVE_WEIGHT", "METER_MISMATCH",
]

WDSF = "WDSF Competition Rules (tempo in bars per minute)"
COMMON = "commonly cited by teachers and DJs; no rulebook; approximate"

#: Width (bars per minute) of the fit outside a style's range.
SIGMA_BARS = 1.5
#: Weight of a match at half or double the estimated tempo (an octave error of the estimate).
OCTAVE_WEIGHT = 0.5
#: Factor for a style of the other meter family than the estimate's.
METER_MISMATCH = 0.2


@dataclass(frozen=True)
class TempoRange:
    """One dance's tempo range: ``bars_min``-``bars_max`` bars per minute in ``beats_per_bar``/4."""

    style: str
    bars_min: float
    bars_max: float
    beats_per_bar: int
    #: True for the WDSF table; False for the commonly cited social-dance ranges.
    dancesport: bool
    source: str

    @property
    def meter(self) -> str:
        return f"{self.beats_per_bar}/4"

    @property
    def bpm_range(self) -> tuple[float, float]:
        """The range in beats (quarter notes) per minute."""
        return (self.bars_min * self.beats_per_bar, self.bars_max * self.beats_per_bar)

    @property
    def triple(self) -> bool:
        return self.beats_per_bar % 3 == 0

    def to_json(self) -> dict:
        lo, hi = self.bpm_range
        return {"style": self.style, "bars_per_minute": [self.bars_min, self.bars_max], "meter": self.meter,
                "bpm": [lo, hi], "dancesport": self.dancesport, "source": self.source}


DANCESPORT_TEMPOS: tuple[TempoRange, ...] = (
    TempoRange("waltz", 28, 30, 3, True, WDSF),
    TempoRange("tango", 31, 33, 4, True, WDSF),
    TempoRange("viennese waltz", 58, 60, 3, True, WDSF),
    TempoRange("foxtrot", 28, 30, 4, True, WDSF),
    TempoRange("quickstep", 50, 52, 4, True, WDSF),
    TempoRange("samba", 50, 52, 2, True, WDSF),
    TempoRange("cha-cha", 30, 32, 4, True, WDSF),
    TempoRange("rumba", 25, 27, 4, True, WDSF),
    TempoRange("paso doble", 60, 62, 2, True, WDSF),
    TempoRange("jive", 42, 44, 4, True, WDSF),
)
#: Not DanceSport: commonly cited ranges (salsa ~150-220 BPM, bachata ~120-150 BPM), in 4/4.
SOCIAL_TEMPOS: tuple[TempoRange, ...] = (
    TempoRange("salsa", 37.5, 55, 4, False, COMMON),
    TempoRange("bachata", 30, 37.5, 4, False, COMMON),
)
ALL_TEMPOS: tuple[TempoRange, ...] = DANCESPORT_TEMPOS + SOCIAL_TEMPOS


def tempo_table(styles: Optional[Sequence[str]] = None,
                table: Sequence[TempoRange] = ALL_TEMPOS) -> tuple[TempoRange, ...]:
    """The rows of ``table`` for ``styles`` (all when None); ``KeyError`` names an unknown style."""
    if styles is None:
        return tuple(table)
    by = {r.style: r for r in table}
    missing = [s for s in styles if s not in by]
    if missing:
        raise KeyError(f"no tempo range for {', '.join(missing)}; known: {', '.join(by)}")
    return tuple(by[s] for s in styles)


# --------------------------------------------------------------------------------------
# Beats per bar
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Meter:
    """A beats-per-bar estimate: 3 or 4 (``None`` when there were too few beats)."""

    beats_per_bar: Optional[int]
    #: The winner's accent contrast minus the runner-up's, in standard errors (0: a guess).
    confidence: float
    #: Per candidate: the best phase's contrast (standard errors) and that phase (the downbeat).
    scores: Mapping[int, float]
    downbeat: Optional[int] = None

    def to_json(self) -> dict:
        r = (lambda x: None if not math.isfinite(x) else round(float(x), 3))
        return {"beats_per_bar": self.beats_per_bar, "confidence": r(self.confidence),
                "scores": {str(k): r(v) for k, v in self.scores.items()}, "downbeat": self.downbeat}


def beat_strengths(beats: np.ndarray, onset: np.ndarray, times: np.ndarray, window: float = 0.07) -> np.ndarray:
    """Each beat's onset strength: the envelope's maximum within ``window`` seconds of it
    (0 for a beat outside the envelope's span)."""
    beats = np.asarray(beats, np.float64).ravel()
    onset = np.asarray(onset, np.float64).ravel()
    times = np.asarray(times, np.float64).ravel()
    if onset.shape != times.shape:
        raise ValueError(f"onset and times differ in length: {onset.shape} vs {times.shape}")
    out = np.zeros(len(beats))
    lo = np.searchsorted(times, beats - window, side="left")
    hi = np.searchsorted(times, beats + window, side="right")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b > a:
            out[i] = float(onset[a:b].max())
    return out


def _fold_contrast(s: np.ndarray, m: int) -> tuple[float, int]:
    """Best (over phases) contrast of beats at phase p mod m against the rest, in standard errors."""
    best, arg = -np.inf, 0
    n = len(s)
    sd = float(s.std())
    if sd <= 0:
        return 0.0, 0
    idx = np.arange(n) % m
    for p in range(m):
        on, off = s[idx == p], s[idx != p]
        if len(on) < 2 or len(off) < 2:
            continue
        se = math.sqrt(on.var(ddof=1) / len(on) + off.var(ddof=1) / len(off)) or sd * math.sqrt(1 / len(on) + 1 / len(off))
        z = (float(on.mean()) - float(off.mean())) / se
        if z > best:
            best, arg = z, p
    return (best if math.isfinite(best) else 0.0), arg


def estimate_beats_per_bar(strengths_or_onset: np.ndarray, beats: Optional[np.ndarray] = None,
                           times: Optional[np.ndarray] = None, *, min_beats: int = 8,
                           window: float = 0.07) -> Meter:
    """3 or 4 beats a bar from the accent pattern (see the module docstring for the method
    and its limits).

    Give either the per-beat onset strengths (in beat order), or an onset envelope with
    ``times`` (its sample times, seconds) and the ``beats`` (seconds): the strengths are then
    read off the envelope by :func:`beat_strengths`. Returns ``Meter(None, 0, {})`` with fewer
    than ``min_beats`` beats.
    """
    x = np.asarray(strengths_or_onset, np.float64).ravel()
    if beats is not None:
        if times is None:
            raise ValueError("give the onset envelope's times with the beats")
        x = beat_strengths(beats, x, times, window)
    x = x[np.isfinite(x)]
    if len(x) < max(int(min_beats), 6):
        return Meter(None, 0.0, {})
    scores, phases = {}, {}
    for m in (3, 4):
        scores[m], phases[m] = _fold_contrast(x, m)
    win = 3 if scores[3] > scores[4] else 4
    lose = 7 - win
    return Meter(win, float(scores[win] - scores[lose]), scores, phases[win])


# --------------------------------------------------------------------------------------
# Tempo fit
# --------------------------------------------------------------------------------------


def _range_fit(bars: float, r: TempoRange, sigma: float) -> float:
    d = max(0.0, r.bars_min - bars, bars - r.bars_max)
    return math.exp(-0.5 * (d / sigma) ** 2)


def tempo_style_fit(bpm: float, beats_per_bar: Optional[int] = None,
                    styles: Sequence[TempoRange] | Sequence[str] | None = None, *,
                    sigma_bars: float = SIGMA_BARS, octave_weight: float = OCTAVE_WEIGHT,
                    meter_mismatch: float = METER_MISMATCH) -> dict[str, float]:
    """How well a tempo (beats per minute) suits each style, in [0, 1] (module docstring).

    ``styles``: rows of the table, or style names (default: :data:`ALL_TEMPOS`).
    ``beats_per_bar``: a meter estimate (3, or 2/4 for duple), or None to ignore meter.
    A tempo that is not a positive finite number fits nothing: every style gets 0.
    """
    if styles is None:
        rows = ALL_TEMPOS
    else:
        rows = tuple(tempo_table([s for s in styles]) if all(isinstance(s, str) for s in styles) else styles)
    b = float(bpm)
    out: dict[str, float] = {}
    for r in rows:
        if not (math.isfinite(b) and b > 0):
            out[r.style] = 0.0
            continue
        fit = max(w * _range_fit(b * k / r.beats_per_bar, r, sigma_bars)
                  for k, w in ((1.0, 1.0), (0.5, octave_weight), (2.0, octave_weight)))
        if beats_per_bar is not None and (int(beats_per_bar) % 3 == 0) != r.triple:
            fit *= meter_mismatch
        out[r.style] = float(fit)
    return out


def best_style(fit: Mapping[str, float]) -> Optional[str]:
    """The style with the highest fit (the first in table order on a tie; None when all are 0)."""
    if not fit or max(fit.values()) <= 0:
        return None
    return max(fit, key=lambda k: fit[k])
