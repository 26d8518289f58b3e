"""What gives a window's source away: a classifier that tells real camera from training data.

A style model trained on motion capture and 2D keypoints and run on a camera can only
transfer if a window does not say where it came from. This module measures that directly:
logistic regression on the baseline's window statistics (:func:`training.baseline.window_statistics`),
asked to tell **real-camera windows** (OpenPose and MediaPipe landmarks of real video) from the
**training windows** of each source, as the training pipeline draws them (augmented,
projected through random cameras). Scored with leave-one-group-out cross-validation (a
dancer or clip is never on both sides), as balanced accuracy: 0.5 is chance.

Two comparisons matter:

* ``same style``: real salsa (OpenPose dancers, Ana's video) against CMU salsa mocap. The
  style is the same, so anything above chance is the source;
* ``any style``: every real-camera window against every training window.

:data:`FAMILIES` repeat the test with one family of statistics at a time
(positions, speeds, speed spectrum, visibility, angles, root motion), which shows *which*
channels carry the source.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from edge.features.motion import FeatureSpec
from edge.core.schema import PoseSequence
from training.augment import AugmentConfig, clip_windows
from training.windows import is_real, training_windows
#: Families of window statistics, each a test on the column name, for the per-family scores.
FAMILIES: dict[str, Callable[[str], bool]] = {
    "positions": lambda n: n.startswith("pos_"),
    "speed level": lambda n: n.startswith("speed_") and "band_" not in n and "dominant" not in n,
    "speed spectrum": lambda n: n.startswith("speed_") and ("band_" in n or "dominant" in n),
    "visibility": lambda n: n.startswith("vis_"),
    "angles": lambda n: n.startswith("angle_"),
    "root motion": lambda n: n.startswith("root_vel"),
}


@dataclass(frozen=True)
class SourceTest:
    """One real-versus-training comparison: balanced accuracy under grouped CV."""

    name: str
    balanced_accuracy: float
    real_windows: int
    training_windows: int
    groups: int
    by_family: dict[str, float]
    top_statistics: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "balanced_accuracy": round(self.balanced_accuracy, 4),
                "real_windows": self.real_windows, "training_windows": self.training_windows,
                "groups": self.groups, "by_family": {k: round(v, 4) for k, v in self.by_family.items()},
                "top_statistics": [[n, round(w, 3)] for n, w in self.top_statistics]}


def grouped_balanced_accuracy(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0,
                              folds: int = 5) -> tuple[float, np.ndarray]:
    """Balanced accuracy of a standardised logistic regression under grouped k-fold CV,
    and the coefficients of one fit on everything (for the most telling statistics)."""
    from edge.core.optional import require

    require("sklearn", "train", "scikit-learn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def classifier():
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced"))

    k = min(folds, len(np.unique(groups)))
    pred = np.zeros(len(y), dtype=int)
    for tr, te in GroupKFold(k).split(x, y, groups):
        if len(np.unique(y[tr])) < 2:
            pred[te] = y[tr][0]
            continue
        pred[te] = classifier().fit(x[tr], y[tr]).predict(x[te])
    recalls = [float((pred[y == c] == c).mean()) for c in (0, 1) if (y == c).any()]
    return float(np.mean(recalls)), classifier().fit(x, y)[-1].coef_[0]


def source_test(name: str, real: Sequence[PoseSequence], train: Sequence[PoseSequence], spec: FeatureSpec,
                cfg: AugmentConfig, per_group: int = 150, hop_seconds: float = 1.0, seed: int = 0) -> SourceTest:
    """Can a linear model tell ``real`` clips' windows from ``train`` clips' training windows?"""
    from training.baseline import statistic_names, window_statistics

    names = statistic_names(spec)
    xr, gr = [], []
    for s in real:
        w = clip_windows(s, spec, hop_seconds)
        xr.append(w)
        gr += [f"real:{s.group}"] * len(w)
    xr_all = np.concatenate(xr) if xr else np.zeros((0, spec.window_frames, spec.num_channels), np.float32)
    groups_train = sorted({s.group for s in train})
    # per group, as training draws them (one "label" per group keeps groups balanced)
    relabelled = [replace(s, label=s.group) for s in train]
    ws = training_windows(relabelled, groups_train, spec, per_group, seed, cfg)
    xt = ws.x
    gt = [f"train:{groups_train[i]}" for i in ws.y]
    x = window_statistics(np.concatenate([xr_all, xt]), spec)
    y = np.r_[np.ones(len(xr_all), int), np.zeros(len(xt), int)]
    g = np.array(gr + gt)
    acc, coef = grouped_balanced_accuracy(x, y, g, seed)
    by_family = {}
    for fam in FAMILIES:
        cols = family_columns(names, fam)
        if cols.any():
            by_family[fam] = grouped_balanced_accuracy(x[:, cols], y, g, seed)[0]
    order = np.argsort(-np.abs(coef))[:8]
    top = tuple((names[i], float(coef[i])) for i in order)
    return SourceTest(name, acc, len(xr_all), len(xt), len(np.unique(g)), by_family, top)


def family_columns(names: Sequence[str], family: str) -> np.ndarray:
    """Boolean mask of the statistic columns in one family of :data:`FAMILIES`."""
    return np.array([FAMILIES[family](n) for n in names], bool)


def before_augmentation(cfg: AugmentConfig) -> AugmentConfig:
    """``cfg`` without the pose-estimator simulation (visibility runs, joint-specific jitter,
    dancers appearing): the augmentation edgerec trained with before real video was measured."""
    return replace(cfg, camera_dropout_prob=0.0, distal_noise=(1.0, 1.0), appear_prob=0.0)


def run_source_tests(seqs: Sequence[PoseSequence], spec: FeatureSpec, cfg: AugmentConfig,
                     seed: int = 0, per_group: int = 150) -> list[SourceTest]:
    """The standard comparisons (same style: salsa; and any style) on loaded clips."""
    real = [s for s in seqs if is_real(s)]
    train = [s for s in seqs if not is_real(s) and s.source != "mediapipe"]
    out = []
    real_salsa = [s for s in real if s.label == "salsa"]
    mocap_salsa = [s for s in train if s.label == "salsa"]
    if real_salsa and mocap_salsa:
        out.append(source_test("same style: real salsa vs CMU salsa mocap", real_salsa, mocap_salsa, spec, cfg,
                               per_group=per_group, seed=seed))
    if real and train:
        out.append(source_test("any style: every real-camera clip vs every training source", real, train, spec,
                               cfg, per_group=max(10, per_group // 4), seed=seed))
    return out
