"""How alike two songs sound: the paper's cosine similarity of mean log-mel spectra, and the
centred variant edgerec ranks with.

The paper recommends "the song on the left to the song on the right" by the cosine
similarity of their mean log-mel vectors (its Figure 9). Taken literally, on dB vectors,
that cosine is close to 1 for any two pieces of music: every bin is negative and every song
has the same downward spectral tilt, so the angle between two songs is tiny and mostly
measures loudness. :func:`sound_similarity` offers both:

* ``mode="paper"``: the cosine of the raw vectors, as the paper computes it;
* ``mode="centred"`` (the default): the cosine after subtracting a *reference* spectrum (the
  mean of the catalogue's songs: what music sounds like on average), so what is compared is
  how each song departs from average music -- brighter, bassier, more percussive in the
  high bands. Without a reference, each vector's own mean over bins is removed (a Pearson
  correlation of spectral shapes, level-free).

The similarity is mapped to ``[0, 1]`` as ``(1 + cos) / 2``, so it blends with the style and
tempo fits of :mod:`edge.recommend.rank`. Centring spreads the scores out; it does not make
them pick songs of the query's style more often: on Music-to-Dance the top 5 share the
query's style for 0.617 of songs with either mode, chance being 0.519 and tempo alone 0.778
(``reports/audio/report.md``, section d).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

__all__ = ["SOUND_MODES", "sound_similarity", "reference_spectrum"]

SOUND_MODES = ("centred", "paper", "shape")


def reference_spectrum(vectors: Sequence[np.ndarray]) -> Optional[np.ndarray]:
    """The mean of the given mean log-mel vectors (None when there are none)."""
    rows = [np.asarray(v, np.float64) for v in vectors if v is not None and len(v)]
    if not rows:
        return None
    n = len(rows[0])
    rows = [r for r in rows if len(r) == n and np.isfinite(r).all()]
    return np.mean(rows, axis=0) if rows else None


def sound_similarity(a: np.ndarray, b: np.ndarray, reference: Optional[np.ndarray] = None,
                     mode: str = "centred") -> float:
    """Similarity of two mean log-mel vectors in ``[0, 1]`` (NaN when either is missing,
    of another length, or not finite). See the module docstring for the modes; ``centred``
    without a reference falls back to ``shape``."""
    if a is None or b is None:
        return float("nan")
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape or not len(x) or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    if mode not in SOUND_MODES:
        raise ValueError(f"unknown sound mode {mode!r}; choose one of {', '.join(SOUND_MODES)}")
    if mode == "centred" and reference is not None and np.shape(reference) == x.shape:
        ref = np.asarray(reference, np.float64)
        x, y = x - ref, y - ref
    elif mode in ("centred", "shape"):
        x, y = x - x.mean(), y - y.mean()
    n = float(np.linalg.norm(x) * np.linalg.norm(y))
    if n == 0.0:
        return float("nan")
    return float(np.clip((1.0 + x @ y / n) / 2.0, 0.0, 1.0))
