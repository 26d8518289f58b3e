"""The honest non-deep baseline: logistic regression on hand-made window statistics.

Every deep model is compared against this. If a network cannot beat a linear classifier on
a couple of hundred summary numbers per window, its extra size buys nothing on a device.

:func:`window_statistics` reduces each (N frames, C channels) window from
:func:`edge.features.window_features` to a fixed vector, per joint:

* mean and std of the normalised position (x, y);
* mean, std and 90th percentile of the speed (norm of the joint's velocity channels);
* the speed spectrum: the magnitude spectrum (Hann window, mean removed) of the joint's speed
  summed in :data:`SPEED_BANDS`, normalised to sum 1, plus the dominant frequency (peak bin,
  refined by parabolic interpolation). Note that a limb swinging back and forth at ``f`` Hz
  has its speed peak twice per cycle, so its speed spectrum peaks at ``2 f``;
* the fraction of frames where the joint is visible;

then mean and std of each joint angle and of the root (hip centre) velocity. A joint's
statistics use only the frames where it is visible (``vis_<joint> > 0.5``), and are 0 when it
is never visible; an angle uses only frames where its three joints are visible.

Channels are found by name in ``spec.channels``, and velocities are used exactly as the
channels hold them (they are log-compressed by the feature code), so the statistics follow
the feature code rather than assuming a scale.

:class:`BaselineModel` keeps labels, the feature spec, the StandardScaler and the logistic
regression parameters as plain JSON values (no pickles) and predicts in numpy alone, so the
baseline runs on a device without scikit-learn. Only :func:`fit_baseline` needs it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from edge.core import jsonio
from edge.core.optional import require
from edge.features.motion import ANGLES, FeatureSpec

#: Bumped whenever the numbers :func:`window_statistics` produces change.
STATISTICS_VERSION = 1
#: Speed-spectrum bands in Hz, half-open ``[lo, hi)``; the DC bin is never counted.
SPEED_BANDS: tuple[tuple[float, float], ...] = (
    (0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 2.5),
)
#: Percentile of the speed reported per joint.
SPEED_PERCENTILE = 90.0
#: Windows per chunk in :func:`window_statistics`; bounds the float64 working memory.
_CHUNK = 2048
#: Below this total spectral magnitude a speed track counts as constant (bands and peak 0).
_FLAT = 1e-6

PathLike = Union[str, "os.PathLike[str]"]


# ------------------------------------------------------------------------- statistics


def _band_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}hz"


def statistic_names(spec: FeatureSpec) -> list[str]:
    """Names of the columns of :func:`window_statistics`, in order.

    Kept next to the computation (same loops, same order) so a column can always be traced
    back to what it measures, and stored in :class:`BaselineModel` so a model refuses
    statistics computed by a different layout.
    """
    joints = spec.joints
    names: list[str] = []
    for ax in "xy":
        names += [f"pos_{j}_{ax}_mean" for j in joints]
        names += [f"pos_{j}_{ax}_std" for j in joints]
    names += [f"speed_{j}_mean" for j in joints]
    names += [f"speed_{j}_std" for j in joints]
    names += [f"speed_{j}_p{SPEED_PERCENTILE:g}" for j in joints]
    for lo, hi in SPEED_BANDS:
        names += [f"speed_{j}_band_{_band_label(lo, hi)}" for j in joints]
    names += [f"speed_{j}_dominant_hz" for j in joints]
    names += [f"vis_{j}_mean" for j in joints]
    angles = [c for c in spec.channels if c.startswith("angle_")]
    names += [f"{a}_mean" for a in angles] + [f"{a}_std" for a in angles]
    names += ["root_vel_x_mean", "root_vel_y_mean", "root_vel_x_std", "root_vel_y_std"]
    return names


def _masked_mean_std(x: np.ndarray, m: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) std of ``x`` over the frame axis 1 where ``m``; 0 where count is 0."""
    denom = np.maximum(count, 1.0)
    mean = (x * m).sum(axis=1) / denom
    var = (((x - mean[:, None]) ** 2) * m).sum(axis=1) / denom
    return mean, np.sqrt(np.maximum(var, 0.0))


def _masked_percentile(x: np.ndarray, m: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    """``np.percentile(x[m], q)`` (linear interpolation) along axis 1 for every column; 0 if none."""
    big = np.finfo(np.float64).max  # sorts after every real value; big - big = 0, no NaN
    srt = np.sort(np.where(m, x, big), axis=1)  # visible values first, ascending
    cnt = count.astype(np.int64)
    pos = (q / 100.0) * np.maximum(cnt - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(cnt - 1, 0))
    frac = pos - lo
    v_lo = np.take_along_axis(srt, lo[:, None], axis=1)[:, 0]
    v_hi = np.take_along_axis(srt, hi[:, None], axis=1)[:, 0]
    out = v_lo + frac * (v_hi - v_lo)
    return np.where(cnt > 0, out, 0.0)


def _speed_spectrum(speed: np.ndarray, m: np.ndarray, mean: np.ndarray, rate: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Band fractions (..., B) and dominant frequency (...) of speed tracks (W, N, J).

    Invisible frames are set to the visible mean, so after removing the mean they add
    nothing. The Hann window keeps a tone between two bins from leaking into every band.
    """
    n = speed.shape[1]
    if n < 3:  # no spectrum to speak of
        return np.zeros(speed.shape[:1] + speed.shape[2:] + (len(SPEED_BANDS),)), np.zeros(mean.shape)
    centred = np.where(m, speed - mean[:, None], 0.0) * np.hanning(n)[None, :, None]
    mag = np.abs(np.fft.rfft(centred, axis=1))  # (W, F, J)
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    bands = np.zeros((len(freqs), len(SPEED_BANDS)))
    for b, (lo, hi) in enumerate(SPEED_BANDS):
        bands[:, b] = (freqs > 0) & (freqs >= lo) & (freqs < hi)
    power = np.einsum("wfj,fb->wjb", mag, bands)
    total = power.sum(axis=-1, keepdims=True)
    frac = np.where(total > _FLAT, power / np.maximum(total, _FLAT), 0.0)

    # dominant frequency over the non-DC bins, refined by a parabola through the peak bin
    ac = mag[:, 1:]
    k = np.argmax(ac, axis=1)  # (W, J), index into ac
    peak = np.take_along_axis(ac, k[:, None], axis=1)[:, 0]
    left = np.take_along_axis(ac, np.maximum(k - 1, 0)[:, None], axis=1)[:, 0]
    right = np.take_along_axis(ac, np.minimum(k + 1, ac.shape[1] - 1)[:, None], axis=1)[:, 0]
    interior = (k > 0) & (k < ac.shape[1] - 1)
    curv = left - 2 * peak + right
    ok = interior & (curv < -1e-12)
    delta = np.where(ok, 0.5 * (left - right) / np.where(ok, curv, -1.0), 0.0)
    df = freqs[1] - freqs[0]
    dominant = (k + 1 + np.clip(delta, -0.5, 0.5)) * df
    dominant = np.where(ac.sum(axis=1) > _FLAT, dominant, 0.0)
    return frac, dominant


class _Layout:
    """Channel indices of a spec, resolved once per call by name."""

    def __init__(self, spec: FeatureSpec) -> None:
        idx = {c: i for i, c in enumerate(spec.channels)}
        js = spec.joints
        self.pos_x = [idx[f"pos_{j}_x"] for j in js]
        self.pos_y = [idx[f"pos_{j}_y"] for j in js]
        self.vel_x = [idx[f"vel_{j}_x"] for j in js]
        self.vel_y = [idx[f"vel_{j}_y"] for j in js]
        self.vis = [idx[f"vis_{j}"] for j in js]
        self.root = [idx["root_vel_x"], idx["root_vel_y"]]
        triples = {f"angle_{v}": (a, v, b) for a, v, b in ANGLES}
        jpos = {j: k for k, j in enumerate(js)}
        self.angle = [i for i, c in enumerate(spec.channels) if c.startswith("angle_")]
        # per angle: the joints (indices into spec.joints) that must be visible, or None to
        # fall back on the channel being non-zero (invalid angles are written as exactly 0)
        self.angle_joints: list[list[int] | None] = []
        for i in self.angle:
            tri = triples.get(spec.channels[i])
            if tri is not None and all(t in jpos for t in tri):
                self.angle_joints.append([jpos[t] for t in tri])
            else:
                self.angle_joints.append(None)


def _statistics_chunk(w: np.ndarray, lay: _Layout, rate: float) -> np.ndarray:
    w = w.astype(np.float64, copy=False)
    vis = w[:, :, lay.vis] > 0.5  # (W, N, J)
    visf = vis.astype(np.float64)
    count = visf.sum(axis=1)  # (W, J)
    cols: list[np.ndarray] = []
    for ch in (lay.pos_x, lay.pos_y):
        mean, std = _masked_mean_std(w[:, :, ch], visf, count)
        cols += [mean, std]
    speed = np.hypot(w[:, :, lay.vel_x], w[:, :, lay.vel_y])
    s_mean, s_std = _masked_mean_std(speed, visf, count)
    s_pct = _masked_percentile(speed, vis, count, SPEED_PERCENTILE)
    frac, dominant = _speed_spectrum(speed, vis, s_mean, rate)
    cols += [s_mean, s_std, s_pct]
    cols += [frac[..., b] for b in range(frac.shape[-1])]
    cols += [dominant, count / w.shape[1]]

    ang = w[:, :, lay.angle]  # (W, N, A)
    amask = np.empty(ang.shape, dtype=np.float64)
    for k, joints in enumerate(lay.angle_joints):
        amask[:, :, k] = vis[:, :, joints].all(axis=-1) if joints is not None else ang[:, :, k] != 0
    a_mean, a_std = _masked_mean_std(ang, amask, amask.sum(axis=1))
    root = w[:, :, lay.root]
    cols += [a_mean, a_std, root.mean(axis=1), root.std(axis=1)]
    return np.concatenate(cols, axis=1)


def window_statistics(windows: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Hand-made statistics of each window: (W, N, C) windows -> (W, F) features.

    Column ``i`` is named ``statistic_names(spec)[i]``. A single (N, C) window is accepted and
    gives (1, F). Vectorised over windows and joints, in chunks of a few thousand windows so
    the float64 working copy stays small; 10,000 windows of 50 frames take well under a
    second.
    """
    w = np.asarray(windows)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[2] != spec.num_channels:
        raise ValueError(
            f"windows must be (W, N, {spec.num_channels}) for this spec, got {np.shape(windows)}"
        )
    lay = _Layout(spec)
    n_stats = len(statistic_names(spec))
    if len(w) == 0:
        return np.zeros((0, n_stats))
    out = np.concatenate([_statistics_chunk(w[i:i + _CHUNK], lay, spec.rate)
                          for i in range(0, len(w), _CHUNK)])
    assert out.shape[1] == n_stats, "statistic_names and window_statistics disagree"
    return out


# ------------------------------------------------------------------------------ model


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class BaselineModel:
    """A fitted baseline as plain values: labels, spec, scaler and logistic regression.

    Everything is a list of floats or strings (nested for ``coef``), so :meth:`to_dict`
    is JSON as is and a model file can be read and audited without Python. Prediction is
    numpy only, reproducing ``StandardScaler`` then ``LogisticRegression.predict_proba``.

    Attributes:
        labels: class names; column ``k`` of :meth:`predict_proba` is ``labels[k]``.
        spec: ``FeatureSpec.to_dict()`` of the windows the model was fitted on.
        statistics: :func:`statistic_names` at fit time, checked again on load.
        scaler_mean / scaler_scale: the StandardScaler's ``mean_`` and ``scale_``.
        coef / intercept: the LogisticRegression's ``coef_`` ((1, F) for two classes, as
            scikit-learn stores it, else (K, F)) and ``intercept_``.
        C: the inverse regularisation strength used.
        statistics_version: :data:`STATISTICS_VERSION` at fit time.
    """

    labels: list[str]
    spec: dict
    statistics: list[str]
    scaler_mean: list[float]
    scaler_scale: list[float]
    coef: list[list[float]]
    intercept: list[float]
    C: float = 1.0
    statistics_version: int = STATISTICS_VERSION

    def __post_init__(self) -> None:
        """Check the shapes agree, so a corrupt or hand-edited file fails on load, not later."""
        f = len(self.statistics)
        k = len(self.labels)
        if len(self.scaler_mean) != f or len(self.scaler_scale) != f:
            raise ValueError("scaler size does not match the number of statistics")
        rows = 1 if k == 2 else k
        if len(self.coef) != rows or any(len(r) != f for r in self.coef) or len(self.intercept) != rows:
            raise ValueError(f"coef/intercept must be ({rows}, {f})/({rows},) for {k} labels")
        if self.statistics_version != STATISTICS_VERSION:
            raise ValueError(
                f"model uses statistics version {self.statistics_version}, this edgerec computes "
                f"version {STATISTICS_VERSION}; refit the baseline"
            )

    @property
    def feature_spec(self) -> FeatureSpec:
        """The :class:`FeatureSpec` to compute windows with (raises on a feature-version mismatch)."""
        return FeatureSpec.from_dict(self.spec)

    def decision_function(self, stats: np.ndarray) -> np.ndarray:
        """Logits from precomputed :func:`window_statistics` (W, F): (W, 1) or (W, K)."""
        x = (np.asarray(stats, dtype=np.float64) - np.asarray(self.scaler_mean)) / np.asarray(self.scaler_scale)
        return x @ np.asarray(self.coef, dtype=np.float64).T + np.asarray(self.intercept, dtype=np.float64)

    def predict_proba_statistics(self, stats: np.ndarray) -> np.ndarray:
        """Class probabilities (W, K) from precomputed statistics, as scikit-learn computes them."""
        z = self.decision_function(stats)
        if len(self.labels) == 2:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        return _softmax_rows(z)

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities (W, K) of (W, N, C) windows, in numpy only."""
        spec = self.feature_spec
        stats = window_statistics(windows, spec)
        if statistic_names(spec) != list(self.statistics):
            raise ValueError("this edgerec computes different statistics than the model was fitted on")
        return self.predict_proba_statistics(stats)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Index into :attr:`labels` of the most probable class of each window."""
        return np.argmax(self.predict_proba(windows), axis=1)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (a ``kind`` key marks what the file holds)."""
        return {
            "kind": "edgerec-baseline",
            "labels": list(self.labels),
            "spec": dict(self.spec),
            "statistics": list(self.statistics),
            "statistics_version": int(self.statistics_version),
            "C": float(self.C),
            "scaler_mean": [float(v) for v in self.scaler_mean],
            "scaler_scale": [float(v) for v in self.scaler_scale],
            "coef": [[float(v) for v in row] for row in self.coef],
            "intercept": [float(v) for v in self.intercept],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "BaselineModel":
        """Inverse of :meth:`to_dict`; validates shapes and versions."""
        if d.get("kind", "edgerec-baseline") != "edgerec-baseline":
            raise ValueError(f"not a baseline model: kind={d.get('kind')!r}")
        return cls(
            labels=[str(v) for v in d["labels"]],
            spec=dict(d["spec"]),
            statistics=[str(v) for v in d["statistics"]],
            scaler_mean=[float(v) for v in d["scaler_mean"]],
            scaler_scale=[float(v) for v in d["scaler_scale"]],
            coef=[[float(v) for v in row] for row in d["coef"]],
            intercept=[float(v) for v in d["intercept"]],
            C=float(d.get("C", 1.0)),
            statistics_version=int(d.get("statistics_version", STATISTICS_VERSION)),
        )

    def save(self, path: PathLike) -> Path:
        """Write JSON atomically (temp file in the same folder, then ``os.replace``)."""
        from training.card import atomic_write_text

        path = Path(path)
        atomic_write_text(path, jsonio.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: PathLike) -> "BaselineModel":
        """Read a model written by :meth:`save`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))


def fit_baseline(windows: np.ndarray, y: Sequence[int] | np.ndarray, labels: Sequence[str],
                 spec: FeatureSpec, C: float = 1.0, seed: int = 0) -> BaselineModel:
    """Fit StandardScaler + balanced LogisticRegression on :func:`window_statistics`.

    ``y`` holds indices into ``labels``; every label must occur, so that the columns of
    :meth:`BaselineModel.predict_proba` are exactly ``labels``. ``class_weight='balanced'``
    keeps a style with many clips from dominating, as the deep models' training does.
    """
    require("sklearn", "train", "scikit-learn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    labels = [str(v) for v in labels]
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError("y must be a 1-D array of integer label indices")
    if len(labels) < 2:
        raise ValueError("need at least two labels")
    missing = sorted(set(range(len(labels))) - set(np.unique(y).tolist()))
    if missing or y.min() < 0 or y.max() >= len(labels):
        raise ValueError(f"y must use every label index 0..{len(labels) - 1}; missing {missing}")
    stats = window_statistics(windows, spec)
    if len(stats) != len(y):
        raise ValueError(f"{len(stats)} windows but {len(y)} labels")
    scaler = StandardScaler().fit(stats)
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed)
    clf.fit(scaler.transform(stats), y)
    return BaselineModel(
        labels=labels,
        spec=spec.to_dict(),
        statistics=statistic_names(spec),
        scaler_mean=scaler.mean_.tolist(),
        scaler_scale=scaler.scale_.tolist(),
        coef=clf.coef_.tolist(),
        intercept=clf.intercept_.tolist(),
        C=float(C),
    )
