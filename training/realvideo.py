"""Real camera video, scored the way a user sees it: at the runtime's own decision level.

Held-out motion-capture clips say little about a camera: the test that matters is real
video of a dancer the model never saw. This module replays real-video landmark sequences
(OpenPose keypoints, MediaPipe landmark files) frame by frame through the real
:class:`edge.runtime.Runtime` (One Euro smoothing, the window cut, calibration, the
probability EMA and the hysteresis), with a model held in memory, and scores what
``edgerec run`` would show on every update:

* **clips right**: the decision shown most often over a clip (a style, or "unsure") is its
  style;
* **windows right**: decided updates (state ``style`` or ``unsure``) showing the right style;
* **in-set unsure**: decided updates of a known style that say "unsure";
* **out-of-set mostly unsure**: clips of an unknown style unsure on at least half their
  decided updates; **confidently wrong**: their updates showing a style at a smoothed
  confidence of :data:`CONFIDENT` or more;
* **time to first style**: seconds from the first frame with a dancer to the first shown style.

Long recordings are cut into :data:`SEGMENT_SECONDS` segments, each replayed from a fresh
runtime, as if a user had filmed a clip of that length: every segment is a dancer
appearing. Segments of one dancer are not independent, so intervals resample dancers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from edge.calibration import Calibration
from edge.features import FeatureSpec
from edge.pose.base import PoseResult
from edge.runtime import Runtime, RuntimeConfig
from edge.schema import NUM_LANDMARKS, PoseSequence
from edge.sources import Frame

#: Length of the clips long real recordings are cut into, in seconds.
SEGMENT_SECONDS = 20.0
#: A remainder shorter than this is joined to the previous segment.
MIN_SEGMENT_SECONDS = 10.0
#: Smoothed confidence at or above which a shown out-of-set style counts as confidently wrong.
CONFIDENT = 0.85

Predict = Callable[[np.ndarray], tuple[np.ndarray, Optional[np.ndarray]]]


class MemoryStyleModel:
    """A classifier held in memory with the interface :class:`edge.runtime.StyleModel` offers.

    ``predict`` maps a batch of windows (B, N, C) to (probabilities, embedding or None); the
    calibration, if any, is applied exactly as the device applies it.
    """

    def __init__(self, predict: Predict, labels: Sequence[str], spec: FeatureSpec,
                 calibration: Optional[Calibration] = None, name: str = "<memory>",
                 prob_threshold: Optional[float] = None):
        self.predict = predict
        self.labels = list(labels)
        self.spec = spec
        self.calibration = calibration
        self.path = Path(name)
        # a model without calibration (the baseline) is unsure below this probability
        self.prob_threshold = prob_threshold

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, bool, float]:
        probs, emb = self.predict(window[None])
        if self.calibration is not None and emb is not None:
            a = self.calibration.assess(probs, emb)
            return a.probs[0], bool(a.unsure[0]), float(a.distance[0])
        p = np.asarray(probs[0], np.float64)
        unsure = self.prob_threshold is not None and float(p.max()) < self.prob_threshold
        return p, bool(unsure), float("nan")

    def close(self) -> None:
        pass


def keras_predict(model: Any) -> Predict:
    """A fast single-window predictor for a Keras classifier: (probs, embedding)."""
    from training.train import two_head

    heads = two_head(model)

    def run(x: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        emb, probs = heads(np.asarray(x, np.float32), training=False)
        return np.asarray(probs, np.float64), np.asarray(emb, np.float64)

    return run


# ------------------------------------------------------------------ replay


def frames(seq: PoseSequence) -> Iterator[Frame]:
    """An image-frame sequence as the frames a landmark source would deliver.

    Landmarks are normalised to the image, visibility is 1 where the source saw the landmark
    and 0 elsewhere, and frames without any landmark carry no pose.
    """
    if seq.frame != "image" or seq.image_size is None:
        raise ValueError(f"{seq.clip_id}: only image-frame sequences with an image size can be replayed")
    w, h = seq.image_size
    for i in range(seq.num_frames):
        m = seq.mask[i]
        if not m.any():
            yield Frame(i, float(seq.times[i]), None, (w, h), 0.0, PoseResult(None))
            continue
        lm = np.zeros((NUM_LANDMARKS, 4), np.float32)
        lm[:, 0] = seq.points[i, :, 0] / w
        lm[:, 1] = seq.points[i, :, 1] / h
        lm[:, 3] = m.astype(np.float32)
        yield Frame(i, float(seq.times[i]), None, (w, h), 0.0, PoseResult(lm))


def segments(seq: PoseSequence, seconds: float = SEGMENT_SECONDS,
             min_seconds: float = MIN_SEGMENT_SECONDS) -> list[PoseSequence]:
    """Cut a long recording into clips of about ``seconds`` (times restart at 0 in each)."""
    if seq.duration < seconds + min_seconds:
        return [seq]
    starts = list(np.arange(0.0, seq.duration, seconds))
    if seq.duration - starts[-1] < min_seconds:
        starts.pop()
    out = []
    t = seq.times - seq.times[0]
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else np.inf
        sel = (t >= s) & (t < e)
        if sel.sum() < 2:
            continue
        out.append(replace(seq, points=seq.points[sel], mask=seq.mask[sel], times=t[sel] - t[sel][0],
                           clip_id=f"{seq.clip_id}@{int(s)}s", meta={**seq.meta, "segment_start": float(s)}))
    return out


@dataclass(frozen=True)
class ClipResult:
    """What the runtime showed on one clip."""

    clip_id: str
    label: str
    group: str
    source: str
    in_set: bool
    seconds: float
    decided: int
    right: int
    unsure: int
    shown: int
    confident_shown: int
    shown_counts: dict[str, int] = field(default_factory=dict)
    first_style_s: Optional[float] = None
    first_decision_s: Optional[float] = None

    @property
    def majority(self) -> Optional[str]:
        """The decision shown most often: a style, ``"unsure"``, or None when nothing was decided."""
        if not self.decided:
            return None
        votes = {**self.shown_counts, "unsure": self.unsure}
        return max(sorted(votes), key=lambda k: votes[k])

    @property
    def correct(self) -> bool:
        return self.in_set and self.majority == self.label

    @property
    def mostly_unsure(self) -> bool:
        return self.decided > 0 and self.unsure / self.decided >= 0.5

    def to_dict(self) -> dict[str, Any]:
        return {"clip": self.clip_id, "label": self.label, "group": self.group, "source": self.source,
                "in_set": self.in_set, "seconds": round(self.seconds, 2), "decided": self.decided,
                "right": self.right, "unsure": self.unsure, "shown": self.shown,
                "confident_shown": self.confident_shown, "shown_counts": dict(sorted(self.shown_counts.items())),
                "majority": self.majority,
                "first_style_s": None if self.first_style_s is None else round(self.first_style_s, 2),
                "first_decision_s": None if self.first_decision_s is None else round(self.first_decision_s, 2)}


def replay(model: Any, seq: PoseSequence, config: RuntimeConfig = RuntimeConfig()) -> ClipResult:
    """Run one clip through a fresh :class:`Runtime` and count what it showed."""
    from edge.recommend import Catalog

    runtime = Runtime(model, Catalog(songs=()), None, config)
    in_set = seq.label in model.labels
    decided = right = unsure = shown = confident = 0
    counts: dict[str, int] = {}
    appear: Optional[float] = None
    first_style = first_decision = None
    for frame in frames(seq):
        if appear is None and frame.pose is not None and frame.pose.found:
            appear = frame.t
        u = runtime.process(frame)
        if u is None or u.state not in ("style", "unsure"):
            continue
        decided += 1
        if first_decision is None and appear is not None:
            first_decision = u.t - appear
        if u.state == "unsure":
            unsure += 1
            continue
        shown += 1
        counts[u.style] = counts.get(u.style, 0) + 1
        right += int(u.style == seq.label)
        confident += int((u.confidence or 0.0) >= CONFIDENT)
        if first_style is None and appear is not None:
            first_style = u.t - appear
    return ClipResult(seq.clip_id, seq.label, seq.group, seq.source, in_set, seq.duration, decided, right,
                      unsure, shown, confident, counts, first_style, first_decision)


# ------------------------------------------------------------------ scores


def wilson(k: int, n: int, z: float = 1.96) -> tuple[Optional[float], Optional[float]]:
    """Wilson score 95% interval of a proportion k/n (None when n is 0)."""
    if n == 0:
        return None, None
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def _cluster_interval(values: Sequence[float], weights: Sequence[float], groups: Sequence[str],
                      n: int = 2000, seed: int = 0) -> tuple[Optional[float], Optional[float]]:
    """95% bootstrap interval of a weighted mean, resampling whole groups (dancers)."""
    v, w, g = np.asarray(values, float), np.asarray(weights, float), np.asarray(groups)
    uniq = np.unique(g)
    if len(uniq) < 2 or w.sum() == 0:
        return None, None
    rng = np.random.default_rng(seed)
    idx = {u: np.flatnonzero(g == u) for u in uniq}
    stats = []
    for _ in range(n):
        pick = np.concatenate([idx[u] for u in rng.choice(uniq, len(uniq))])
        if w[pick].sum() > 0:
            stats.append(float((v[pick] * w[pick]).sum() / w[pick].sum()))
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"k": int(k), "n": int(n), "rate": None if n == 0 else k / n, "ci95": [lo, hi]}


def summarise(results: Sequence[ClipResult]) -> dict[str, Any]:
    """The real-video scores of a set of clips (see the module doc), with 95% intervals.

    Rates carry Wilson intervals that treat their units as independent and, where more than
    one dancer contributes, ``ci95_dancers``: a bootstrap over dancers, the honest one.
    """
    ins = [r for r in results if r.in_set]
    outs = [r for r in results if not r.in_set]
    out: dict[str, Any] = {"clips": len(results), "in_set_clips": len(ins), "out_of_set_clips": len(outs)}
    if ins:
        scored = [r for r in ins if r.decided]
        out["clips_right"] = _rate(sum(r.correct for r in scored), len(ins))
        out["clips_right"]["ci95_dancers"] = list(_cluster_interval(
            [float(r.correct) for r in ins], [1.0] * len(ins), [r.group for r in ins]))
        dec = sum(r.decided for r in ins)
        out["windows_right"] = _rate(sum(r.right for r in ins), dec)
        out["windows_right"]["ci95_dancers"] = list(_cluster_interval(
            [r.right / r.decided if r.decided else 0.0 for r in ins], [r.decided for r in ins],
            [r.group for r in ins]))
        out["in_set_unsure"] = _rate(sum(r.unsure for r in ins), dec)
        out["in_set_unsure"]["ci95_dancers"] = list(_cluster_interval(
            [r.unsure / r.decided if r.decided else 0.0 for r in ins], [r.decided for r in ins],
            [r.group for r in ins]))
        firsts = [r.first_style_s for r in ins if r.first_style_s is not None]
        out["first_style_s"] = {"median": float(np.median(firsts)) if firsts else None,
                                "max": float(np.max(firsts)) if firsts else None,
                                "clips_with_a_style": len(firsts), "clips": len(ins)}
        decs = [r.first_decision_s for r in ins if r.first_decision_s is not None]
        out["first_decision_s"] = {"median": float(np.median(decs)) if decs else None,
                                   "max": float(np.max(decs)) if decs else None}
    if outs:
        dec = sum(r.decided for r in outs)
        out["out_of_set_mostly_unsure"] = _rate(sum(r.mostly_unsure for r in outs), len(outs))
        out["out_of_set_windows_unsure"] = _rate(sum(r.unsure for r in outs), dec)
        out["out_of_set_windows_shown"] = _rate(sum(r.shown for r in outs), dec)
        out["out_of_set_confidently_wrong"] = _rate(sum(r.confident_shown for r in outs), dec)
    return out
