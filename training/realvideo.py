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

from edge.classify.calibration import Calibration
from edge.features.motion import FeatureSpec
from edge.pose.base import PoseResult
from edge.runtime.loop import Runtime, RuntimeConfig
from edge.core.schema import NUM_LANDMARKS, PoseSequence
from edge.sources.frames import Frame
from training.train import THRESHOLD_SCALE_RANGE

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
                 prob_threshold: Optional[float] = None, card: Optional[dict] = None):
        self.predict = predict
        self.card = card
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
    from training.models import two_head

    heads = two_head(model)

    def run(x: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        emb, probs = heads([np.asarray(x, np.float32)], training=False)
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
    #: Updates the runtime called ``still`` (no movement): neither decided nor a style.
    still: int = 0

    @property
    def majority(self) -> Optional[str]:
        """The decision shown most often: a style, ``"unsure"``, or None when nothing was decided."""
        if not self.decided:
            return None
        votes = {**self.shown_counts, "unsure": self.unsure}
        # a tie never counts as a style: "unsure" first, then alphabetical
        return max(sorted(votes, key=lambda k: (k != "unsure", k)), key=lambda k: votes[k])

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
                "first_decision_s": None if self.first_decision_s is None else round(self.first_decision_s, 2),
                "still": self.still}


def replay(model: Any, seq: PoseSequence, config: RuntimeConfig = RuntimeConfig()) -> ClipResult:
    """Run one clip through a fresh :class:`Runtime` and count what it showed."""
    from edge.recommend import Catalog

    runtime = Runtime(model, Catalog(songs=()), None, config)
    in_set = seq.label in model.labels
    decided = right = unsure = shown = confident = still = 0
    counts: dict[str, int] = {}
    appear: Optional[float] = None
    first_style = first_decision = None
    for frame in frames(seq):
        if appear is None and frame.pose is not None and frame.pose.found:
            appear = frame.t
        u = runtime.process(frame)
        if u is not None and u.state == "still":
            still += 1  # counted apart, so a threshold that starts to catch real dancing shows
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
                      unsure, shown, confident, counts, first_style, first_decision, still)


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


def _window_rate(results: Sequence[ClipResult], attr: str, groups: Sequence[str], key: str) -> dict[str, Any]:
    """The share of decided updates counted by ``attr``, with a bootstrap interval (under ``key``)
    that resamples ``groups`` (dancers, or clips) instead of updates."""
    rate = _rate(sum(getattr(r, attr) for r in results), sum(r.decided for r in results))
    rate[key] = list(_cluster_interval([getattr(r, attr) / r.decided if r.decided else 0.0 for r in results],
                                       [r.decided for r in results], groups))
    return rate


def summarise(results: Sequence[ClipResult]) -> dict[str, Any]:
    """The real-video scores of a set of clips (see the module doc), with 95% intervals.

    Rates carry Wilson intervals that treat their units as independent and, where more than
    one dancer contributes, ``ci95_dancers``: a bootstrap over dancers, the honest one.
    """
    ins = [r for r in results if r.in_set]
    outs = [r for r in results if not r.in_set]
    out: dict[str, Any] = {"clips": len(results), "in_set_clips": len(ins), "out_of_set_clips": len(outs)}
    if ins:
        dancers = [r.group for r in ins]
        out["clips_right"] = _rate(sum(r.correct for r in ins), len(ins))
        out["clips_right"]["ci95_dancers"] = list(_cluster_interval(
            [float(r.correct) for r in ins], [1.0] * len(ins), dancers))
        for key, attr in (("windows_right", "right"), ("in_set_unsure", "unsure")):
            out[key] = _window_rate(ins, attr, dancers, "ci95_dancers")
        firsts = [r.first_style_s for r in ins if r.first_style_s is not None]
        out["first_style_s"] = {"median": float(np.median(firsts)) if firsts else None,
                                "max": float(np.max(firsts)) if firsts else None,
                                "within_3s": sum(f <= 3.0 + 1e-9 for f in firsts),
                                "clips_with_a_style": len(firsts), "clips": len(ins)}
        decs = [r.first_decision_s for r in ins if r.first_decision_s is not None]
        out["first_decision_s"] = {"median": float(np.median(decs)) if decs else None,
                                   "max": float(np.max(decs)) if decs else None}
    if outs:
        # every fold's model replays each out-of-set clip: resample clips, not replays
        clips = [r.clip_id for r in outs]
        out["out_of_set_mostly_unsure"] = _rate(sum(r.mostly_unsure for r in outs), len(outs))
        out["out_of_set_mostly_unsure"]["ci95_clips"] = list(_cluster_interval(
            [float(r.mostly_unsure) for r in outs], [1.0] * len(outs), clips))
        for key, attr in (("out_of_set_windows_unsure", "unsure"), ("out_of_set_windows_shown", "shown"),
                          ("out_of_set_confidently_wrong", "confident_shown")):
            out[key] = _window_rate(outs, attr, clips, "ci95_clips")
        out["out_of_set_distinct_clips"] = len(set(clips))
    return out


# ------------------------------------------------------------------ the protocol


@dataclass(frozen=True)
class Fold:
    """One held-out real dancer (or AIST++ clip set): what trains, what is scored."""

    name: str
    held_out: tuple[str, ...]       # split groups left out of training
    test: tuple[PoseSequence, ...]  # in-set real clips of the held-out groups


def dancer_folds(inset: Sequence[PoseSequence]) -> list[Fold]:
    """Leave one real-camera dancer out: one fold per real in-set group (a dancer)."""
    from training.windows import is_real

    real = [s for s in inset if is_real(s)]
    return [Fold(g, (g,), tuple(s for s in real if s.group == g)) for g in sorted({s.group for s in real})]


def aistpp_folds(inset: Sequence[PoseSequence]) -> list[Fold]:
    """AIST++ has one dancer per genre and two clips each: hold out the first, then the second
    clip of every genre (the same dancer is in training, so these are not unseen dancers)."""
    by_label: dict[str, list[PoseSequence]] = {}
    for s in inset:
        if s.source == "aistpp":
            by_label.setdefault(s.label, []).append(s)
    if not by_label or min(len(v) for v in by_label.values()) < 2:
        return []
    out = []
    for k in range(2):
        test = tuple(sorted(v, key=lambda s: s.clip_id)[k] for v in by_label.values())
        out.append(Fold(f"aistpp clip {k + 1} of each genre", tuple(s.group for s in test), test))
    return out


def distance_ratio(model: MemoryStyleModel, seqs: Sequence[PoseSequence], quantile: float) -> Optional[float]:
    """How far a model's unseen real dancers sit in its embedding, relative to its threshold.

    The ``quantile`` of the held-out dancers' window distances divided by the model's own
    distance threshold (fitted on augmented validation windows): the factor by which that
    threshold must grow to accept ``quantile`` of real windows of a style it knows.
    """
    from training.augment import clip_windows

    if model.calibration is None:
        return None
    xs = [clip_windows(s, model.spec, 0.5) for s in seqs]
    x = np.concatenate([w for w in xs if len(w)]) if any(len(w) for w in xs) else None
    if x is None:
        return None
    _, emb = model.predict(x)
    d = model.calibration.distance(np.asarray(emb, np.float64))
    return float(np.quantile(d, quantile) / model.calibration.distance_threshold)


def with_threshold_scale(model: MemoryStyleModel, scale: float) -> MemoryStyleModel:
    """The same model with its distance threshold multiplied by ``scale``."""
    c = model.calibration
    if c is None:
        return model
    return MemoryStyleModel(model.predict, model.labels, model.spec,
                            replace(c, distance_threshold=c.distance_threshold * scale), str(model.path),
                            model.prob_threshold, model.card)


#: Quantile of unseen real dancers' distances the real-video calibration accepts.
REAL_ACCEPT_QUANTILE = 0.95
#: Bounds of the real-video threshold scale (shared with ``edgerec train --real-calibration``).
SCALE_RANGE = THRESHOLD_SCALE_RANGE
#: The baseline has no embedding: it says unsure below this probability, like the edge model.
BASELINE_PROB_THRESHOLD = 0.5
MODEL_NAMES = {
    "edge": "edge (temporal CNN), unsure calibrated on real held-out dancers",
    "edge-val": "the same edge models, unsure calibrated on augmented validation windows only",
    "baseline": "baseline (logistic regression on window statistics, no outlier exposure; unsure below "
                "probability 0.5)",
}


def _replay_all(model: Any, clips: Sequence[PoseSequence], config: RuntimeConfig, fold: str) -> list[dict]:
    out = []
    for c in clips:
        d = replay(model, c, config).to_dict()
        d["fold"] = fold
        out.append(d)
    return out


def _from_dict(d: dict) -> ClipResult:
    keys = ClipResult.__dataclass_fields__
    return ClipResult(**{"clip_id": d["clip"], **{k: d[k] for k in keys if k in d and k != "clip_id"},
                         "first_style_s": d.get("first_style_s"), "first_decision_s": d.get("first_decision_s")})


def outlier_parts(clips: Sequence[PoseSequence], parts: int = 2) -> list[list[PoseSequence]]:
    """Split out-of-set clips into ``parts`` groups of whole styles, as even in clips as the
    styles allow (largest style first, each to the smallest part). A clip is scored by a model
    exposed only to the *other* parts' styles: never to its own style."""
    by_style: dict[str, list[PoseSequence]] = {}
    for c in clips:
        by_style.setdefault(c.label, []).append(c)
    out: list[list[PoseSequence]] = [[] for _ in range(min(parts, len(by_style)))]
    for style in sorted(by_style, key=lambda k: (-len(by_style[k]), k)):
        min(out, key=len).extend(by_style[style])
    return [p for p in out if p]


def _sweep_row(mult: float, u: dict) -> dict:
    keys = ("clips_right", "windows_right", "in_set_unsure", "out_of_set_mostly_unsure", "out_of_set_confidently_wrong")
    return {"multiplier": mult, **{k: (u.get(k) or {}).get("rate") for k in keys}}


def run_protocol(data_dir: str | Path, cfg: Any, progress: bool = True, aistpp: bool = True,
                 config: RuntimeConfig = RuntimeConfig(), quantile: float = REAL_ACCEPT_QUANTILE,
                 sweep: Sequence[float] = (0.6, 0.8, 1.25, 1.6)) -> dict[str, Any]:
    """Leave one real dancer out: train, calibrate "unsure" on the *other* held-out dancers,
    and replay the held-out dancer's clips and every out-of-set real clip through the runtime.

    * For each dancer fold D the edge model's distance threshold is scaled by the mean, over
      the other folds E, of :func:`distance_ratio` of E's clips under E's model (a model
      that never saw E): D's own clips never shape D's threshold.
    * With outlier exposure (``cfg.outlier_share`` > 0), out-of-set real clips are split by
      style (:func:`outlier_parts`); each fold trains one edge model per part, exposed to
      the other parts, and that model scores the part's clips. The fold's own dancer is
      scored by the model exposed to the most outlier clips, the closest to the shipped one.
    """
    import time

    from training.train import draw_windows, fit_baseline_model, fit_window_model, keras_seed, load_dataset
    from training.windows import is_real

    started = time.time()
    ds = load_dataset(data_dir, progress=progress)
    labels = list(ds.labels)
    folds = dancer_folds(ds.inset)
    if not folds:
        raise ValueError(f"{data_dir}: no real-camera clips of a known style; add openpose/ or realvideo/ data")
    extra = aistpp_folds(ds.inset) if aistpp else []
    oos_clips = [s for s in ds.outset if is_real(s)]
    exposure = cfg.outlier_share > 0 and len({s.label for s in oos_clips}) >= 2
    parts = outlier_parts(oos_clips) if exposure else [oos_clips]
    part_segments = [[seg for c in p for seg in segments(c)] for p in parts]
    all_folds = folds + extra
    dancer_names = {f.name for f in folds}
    n_fits = len(folds) * len(parts) + len(extra)
    bar = _bar(n_fits, progress)
    trained: dict[tuple[str, int], dict[str, Any]] = {}
    baselines: dict[str, Any] = {}
    for fold in all_folds:
        train_seqs = [s for s in ds.inset if s.group not in fold.held_out]
        keras_seed(cfg.seed)
        tr, va = draw_windows(train_seqs, labels, cfg)
        base = fit_baseline_model(train_seqs, labels, cfg, windows=tr)
        baselines[fold.name] = MemoryStyleModel(lambda x, b=base: (b.predict_proba(x), None), labels, cfg.spec,
                                                None, "baseline", prob_threshold=BASELINE_PROB_THRESHOLD)
        is_dancer = fold.name in dancer_names
        for k in range(len(parts) if is_dancer else 1):
            exposed = [c for j, p in enumerate(parts) if j != k for c in p] if exposure else []
            if not is_dancer and exposure:
                exposed = oos_clips
            keras_seed(cfg.seed)
            fitted = fit_window_model(train_seqs, labels, cfg, windows=(tr, va), outliers=exposed)
            edge_m = MemoryStyleModel(keras_predict(fitted.model), labels, cfg.spec, fitted.calibration, "edge")
            trained[(fold.name, k)] = {
                "edge": edge_m, "exposed": sorted({c.label for c in exposed}), "n_exposed": len(exposed),
                "ratio": distance_ratio(edge_m, fold.test, quantile) if is_dancer else None,
                "epochs": fitted.history.get("epochs_run"),
                "oos": part_segments[k] if is_dancer else [],
            }
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    rows: dict[str, list[dict]] = {k: [] for k in MODEL_NAMES}
    sweep_rows: dict[float, list[dict]] = {}
    fold_info = []
    for fold in all_folds:
        keys = [key for key in trained if key[0] == fold.name]
        in_key = max(keys, key=lambda key: trained[key]["n_exposed"])
        test = [seg for s in fold.test for seg in segments(s)]
        info: dict[str, Any] = {"name": fold.name, "kind": "dancer" if fold.name in dancer_names else "aistpp",
                                "held_out": list(fold.held_out),
                                "test_clips": [s.clip_id for s in fold.test], "models": []}
        for key in keys:
            t = trained[key]
            # a dancer fold's scale comes from the other dancers only; an AIST++ fold (no real
            # dancer of its own) takes the mean of every dancer fold's ratio
            others = [v["ratio"] for (n2, k2), v in trained.items()
                      if n2 != fold.name and (k2 == key[1] or fold.name not in dancer_names) and v["ratio"] is not None]
            scale = float(np.mean(others)) if others else 1.0
            scale = float(np.clip(scale, *SCALE_RANGE))
            clips = (test if key == in_key else []) + t["oos"]
            models = {"edge": with_threshold_scale(t["edge"], scale), "edge-val": t["edge"]}
            for name, m in models.items():
                rows[name] += _replay_all(m, clips, config, fold.name)
            if fold.name in dancer_names:
                for mult in sweep:
                    sweep_rows.setdefault(mult, []).extend(
                        _replay_all(with_threshold_scale(t["edge"], scale * mult), clips, config, fold.name))
            info["models"].append({"exposed_to": t["exposed"], "exposed_clips": t["n_exposed"],
                                   "scores": sorted({c.label for c in t["oos"]})
                                   + (["in-set test clips"] if key == in_key else []),
                                   "distance_ratio": t["ratio"], "threshold_scale": scale, "epochs": t["epochs"]})
        rows["baseline"] += _replay_all(baselines[fold.name], test + (
            [seg for p in part_segments for seg in p] if fold.name in dancer_names else []), config, fold.name)
        fold_info.append(info)
    result: dict[str, Any] = {
        "protocol": {
            "folds": fold_info,
            "segment_seconds": SEGMENT_SECONDS, "real_accept_quantile": quantile, "confident": CONFIDENT,
            "outlier_exposure": {"share": cfg.outlier_share if exposure else 0.0,
                                 "parts": [sorted({c.label for c in p}) for p in parts] if exposure else []},
            "runtime": {"hop_seconds": config.hop_seconds, "min_valid": config.min_valid,
                        "prob_alpha": config.prob_alpha, "switch_updates": config.switch_updates},
            "feature_spec": cfg.spec.to_dict(),
            "out_of_set_clips": [s.clip_id for s in oos_clips],
            "labels": labels,
        },
        "models": {},
        "seconds": None,
    }
    for key, clip_rows in rows.items():
        result["models"][key] = {"description": MODEL_NAMES[key], **_model_summaries(clip_rows, dancer_names),
                                 "clips": clip_rows}
    result["threshold_sweep"] = sorted(
        [_sweep_row(m, summarise([_from_dict(r) for r in rs])) for m, rs in sweep_rows.items()]
        + [_sweep_row(1.0, result["models"]["edge"]["unseen_dancers"])], key=lambda r: r["multiplier"])
    result["seconds"] = round(time.time() - started, 1)
    return result


def _model_summaries(clip_rows: Sequence[dict], dancer_folds: set[str]) -> dict[str, Any]:
    """One model's summaries from its per-clip rows: unseen dancers (with the out-of-set clips
    their folds replayed), per dancer, per out-of-set style, and the AIST++ folds apart."""
    res = [_from_dict(r) for r in clip_rows]
    dancer = [r for r, d in zip(res, clip_rows) if d["fold"] in dancer_folds]
    aist = [r for r, d in zip(res, clip_rows) if d["fold"] not in dancer_folds]
    return {
        "unseen_dancers": summarise(dancer),
        "per_dancer": {g: summarise([r for r in dancer if r.in_set and r.group == g])
                       for g in sorted({r.group for r in dancer if r.in_set})},
        "per_out_of_set_style": {lab: summarise([r for r in dancer if not r.in_set and r.label == lab])
                                 for lab in sorted({r.label for r in dancer if not r.in_set})},
        "aistpp": summarise(aist) if aist else None,
    }


def resummarise(result: dict[str, Any]) -> dict[str, Any]:
    """Recompute every summary of a protocol result from its stored per-clip rows (so a
    report can be re-rendered by newer code without rerunning the folds)."""
    folds = {f["name"] for f in result["protocol"]["folds"]
             if f.get("kind", "dancer" if f["name"].startswith("dancer:") else "aistpp") == "dancer"}
    for m in result["models"].values():
        m.update(_model_summaries(m["clips"], folds))
    return result


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from edge.core.optional import require

    return require("tqdm", "train").tqdm(total=total, desc="real-video folds", unit="fold", leave=False)


# ------------------------------------------------------------------ any model, any folder


def memory_model(path: str | Path) -> Any:
    """A model file as the runtime drives it: converted files through :class:`edge.runtime.StyleModel`,
    Keras and baseline files (training formats) through :class:`MemoryStyleModel`."""
    from edge.classify.formats import suffixes
    from edge.runtime.loop import StyleModel
    from training.evaluate import load_model

    path = Path(path)
    if path.suffix in suffixes():
        return StyleModel(path)
    loaded = load_model(path)
    card = loaded.card
    if card.get("preprocessing") != "windows":
        raise ValueError(f"{path}: a {card.get('arch')!r} model classifies whole clips, not a live pose stream; "
                         "evaluate it without --runtime")
    spec = FeatureSpec.from_dict(card["feature_spec"])
    calib = Calibration.from_dict(card["calibration"]) if card.get("calibration") else None
    if loaded.model is not None:  # Keras: one window per call, without predict()'s per-call overhead
        return MemoryStyleModel(keras_predict(loaded.model), card["labels"], spec, calib, str(path), card=card)
    return MemoryStyleModel(loaded.predict, card["labels"], spec, calib, str(path),
                            prob_threshold=BASELINE_PROB_THRESHOLD, card=card)


def as_image_sequence(seq: PoseSequence, card: Optional[dict] = None) -> PoseSequence:
    """An image-frame version of any clip: world (mocap) clips are filmed by the evaluation camera."""
    if seq.frame == "image":
        return seq
    from training.augment import card_camera, project

    camera = card_camera(card)
    xy = project(seq.points.astype(np.float64), seq.mask, camera)
    pts = np.zeros_like(seq.points)
    pts[..., :2] = xy
    return replace(seq, points=pts.astype(np.float32), frame="image", image_size=tuple(camera.image_size))


def _log(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


def landmark_cache() -> Path:
    """Where landmarks extracted for ``evaluate --runtime`` are kept (one folder per input folder)."""
    from edge.core.paths import cache_dir

    return cache_dir("landmarks")


def _extract_videos(data_dir: Path, progress: bool) -> list[Path]:
    """Landmark files for the videos under ``data_dir`` that have none beside them (extracted
    with the runtime's pose stage into a cache, reused when still current)."""
    import hashlib

    from edge.runtime.extract import ExtractConfig, extract_video, finished, plan
    from edge.sources.posefile import LANDMARK_SUFFIX, VIDEO_SUFFIXES

    if not any(p.suffix.lower() in VIDEO_SUFFIXES for p in data_dir.rglob("*")):
        return []
    key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    jobs = [j for j in plan(data_dir, landmark_cache() / key)
            if not j.video.with_name(j.video.stem + LANDMARK_SUFFIX).exists()]
    config = ExtractConfig(progress=progress)
    failed = []
    for i, job in enumerate(jobs, 1):
        if finished(job) is None:
            continue
        result = extract_video(job, config, position=f"[{i}/{len(jobs)}] ")
        if result.status == "failed":
            failed.append(result.error or str(job.video))
        elif progress:
            _log(result.line())
    if failed:
        raise ValueError(f"{len(failed)} video(s) could not be read: {failed[0]}")
    return [j.landmarks for j in jobs]


def evaluate_runtime(model_path: str | Path, data_dir: str | Path, sources: Optional[Sequence[str]] = None,
                     config: RuntimeConfig = RuntimeConfig(), progress: bool = False) -> dict[str, Any]:
    """Replay every clip under ``data_dir`` through the runtime with a model file and score what
    it shows (see the module doc). Videos without landmark files beside them are run through
    the pose stage first (``edgerec data extract``, cached)."""
    from training import datasets

    from edge.sources.posefile import load_landmark_file

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValueError(f"{data_dir}: folder not found; give a folder of landmark files, OpenPose folders or videos")
    model = memory_model(model_path)
    extracted = _extract_videos(data_dir, progress)
    seqs: list[PoseSequence] = list(datasets.load_all(data_dir, tuple(sources) if sources else None,
                                                      progress=progress))
    if sources is None or "mediapipe" in sources:
        seqs += [load_landmark_file(p) for p in extracted]
    if not seqs:
        raise ValueError(f"{data_dir}: no clips or videos found; point it at landmark files, videos or a data folder")
    card = getattr(model, "card", None)
    results = [replay(model, seg, config) for s in seqs for seg in segments(as_image_sequence(s, card))]
    by_source = {src: summarise([r for r in results if r.source == src]) for src in sorted({r.source for r in results})}
    return {"model": str(model_path), "data": str(data_dir), "labels": list(model.labels),
            "level": "runtime decisions", "all": summarise(results), "by_source": by_source,
            "clips": [r.to_dict() for r in results]}
