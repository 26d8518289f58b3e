"""Tests for training.baseline: window statistics and the numpy logistic-regression baseline."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge.features import BODY_JOINTS, FeatureSpec, frame_features
from training.baseline import (
    SPEED_BANDS,
    BaselineModel,
    fit_baseline,
    statistic_names,
    window_statistics,
)

SPEC = FeatureSpec()
_J = {n: i for i, n in enumerate(BODY_JOINTS)}
# a standing body in pixels (y down), torso length 200 px
_REST = {
    "head": (0, -80), "left_shoulder": (-60, 0), "right_shoulder": (60, 0),
    "left_elbow": (-80, 100), "right_elbow": (80, 100), "left_wrist": (-90, 190),
    "right_wrist": (90, 190), "left_hip": (-40, 200), "right_hip": (40, 200),
    "left_knee": (-45, 350), "right_knee": (45, 350), "left_ankle": (-50, 500),
    "right_ankle": (50, 500),
}


def _body(n: int) -> np.ndarray:
    base = np.array([_REST[j] for j in BODY_JOINTS], dtype=np.float64) + [640.0, 300.0]
    return np.repeat(base[None], n, axis=0)


def _times(spec: FeatureSpec = SPEC) -> np.ndarray:
    return np.arange(spec.window_frames) / spec.rate


def _window(x: np.ndarray, ok: np.ndarray | None = None) -> np.ndarray:
    """Real per-frame channels (the feature code, compression included) of a (N, J, 2) body."""
    if ok is None:
        ok = np.ones(x.shape[:2], dtype=bool)
    return frame_features(x, ok, SPEC)


def _col(name: str) -> int:
    return statistic_names(SPEC).index(name)


def test_statistics_shape_matches_names() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(7, SPEC.window_frames, SPEC.num_channels)).astype(np.float32)
    vis = [SPEC.channels.index(f"vis_{j}") for j in SPEC.joints]
    w[:, :, vis] = rng.random((7, SPEC.window_frames, len(vis))) > 0.2
    stats = window_statistics(w, SPEC)
    names = statistic_names(SPEC)
    assert stats.shape == (7, len(names))
    assert len(set(names)) == len(names)
    assert np.isfinite(stats).all()
    assert window_statistics(w[0], SPEC).shape == (1, len(names))
    with pytest.raises(ValueError):
        window_statistics(w[:, :, :-1], SPEC)


def test_speed_modulated_at_1_2_hz() -> None:
    """Left wrist drifts at 0.5 torso/s with a 1.2 Hz wobble: its speed oscillates at 1.2 Hz."""
    t = _times()
    x = _body(len(t))
    x[:, _J["left_wrist"], 0] += 100.0 * t + 10.0 * np.sin(2 * np.pi * 1.2 * t)
    stats = window_statistics(_window(x), SPEC)[0]
    assert stats[_col("speed_left_wrist_dominant_hz")] == pytest.approx(1.2, abs=0.05)
    bands = [stats[_col(f"speed_left_wrist_band_{lo:g}-{hi:g}hz")] for lo, hi in SPEED_BANDS]
    assert sum(bands) == pytest.approx(1.0)
    assert int(np.argmax(bands)) == 2  # the 1-1.5 Hz band
    assert bands[2] > 0.5
    # the still joints: no speed, no spectrum
    for j in ("right_wrist", "head", "left_ankle"):
        assert stats[_col(f"speed_{j}_mean")] == pytest.approx(0.0, abs=1e-6)
        assert stats[_col(f"speed_{j}_dominant_hz")] == 0.0
        assert stats[_col(f"speed_{j}_band_1-1.5hz")] == 0.0
    assert stats[_col("vis_left_wrist_mean")] == 1.0


def test_swing_doubles_in_speed_spectrum() -> None:
    """A wrist swinging back and forth at 0.6 Hz peaks in speed twice a cycle: 1.2 Hz."""
    t = _times()
    x = _body(len(t))
    x[:, _J["right_wrist"], 0] += 40.0 * np.sin(2 * np.pi * 0.6 * t)
    stats = window_statistics(_window(x), SPEC)[0]
    assert stats[_col("speed_right_wrist_dominant_hz")] == pytest.approx(1.2, abs=0.1)


def test_only_visible_frames_count() -> None:
    rng = np.random.default_rng(1)
    n = SPEC.window_frames
    w = rng.normal(size=(1, n, SPEC.num_channels))
    ch = {c: i for i, c in enumerate(SPEC.channels)}
    for j in SPEC.joints:
        w[0, :, ch[f"vis_{j}"]] = 1.0
    seen = rng.random(n) > 0.4
    w[0, :, ch["vis_left_knee"]] = seen
    w[0, :, ch["vis_right_knee"]] = 0.0
    stats = window_statistics(w, SPEC)[0]
    px = w[0, seen, ch["pos_left_knee_x"]]
    speed = np.hypot(w[0, seen, ch["vel_left_knee_x"]], w[0, seen, ch["vel_left_knee_y"]])
    assert stats[_col("pos_left_knee_x_mean")] == pytest.approx(px.mean())
    assert stats[_col("pos_left_knee_x_std")] == pytest.approx(px.std())
    assert stats[_col("speed_left_knee_mean")] == pytest.approx(speed.mean())
    assert stats[_col("speed_left_knee_p90")] == pytest.approx(np.percentile(speed, 90))
    assert stats[_col("vis_left_knee_mean")] == pytest.approx(seen.mean())
    right = [i for i, name in enumerate(statistic_names(SPEC)) if "right_knee" in name]
    assert np.all(stats[right] == 0.0)
    # an angle at the right knee needs the right knee: never visible, so 0
    assert stats[_col("angle_right_knee_mean")] == 0.0


def _dataset(rng: np.random.Generator, freqs: list[float], per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose wrists and ankles bounce at a class's frequency (random phase, size, noise)."""
    t = _times()
    out, ys = [], []
    for k, f in enumerate(freqs):
        for _ in range(per_class):
            x = _body(len(t)) + rng.normal(0, 1.5, (len(t), len(BODY_JOINTS), 2))
            f_i = f * rng.uniform(0.9, 1.1)
            for j in ("left_wrist", "right_wrist", "left_ankle", "right_ankle"):
                amp = rng.uniform(15, 40)
                x[:, _J[j], 1] += amp * np.sin(2 * np.pi * f_i * t + rng.uniform(0, 2 * np.pi))
            out.append(_window(x))
            ys.append(k)
    return np.stack(out), np.array(ys)


@pytest.fixture(scope="module")
def two_class() -> tuple[BaselineModel, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    w_tr, y_tr = _dataset(rng, [0.35, 1.0], 30)
    w_te, y_te = _dataset(rng, [0.35, 1.0], 20)
    model = fit_baseline(w_tr, y_tr, ["slow", "fast"], SPEC, C=1.0, seed=0)
    return model, w_tr, y_tr, w_te, y_te


def test_baseline_separates_slow_from_fast(two_class) -> None:
    model, w_tr, y_tr, w_te, y_te = two_class
    assert (model.predict(w_tr) == y_tr).mean() == 1.0
    assert (model.predict(w_te) == y_te).mean() == 1.0


def _sklearn_proba(w: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    stats = window_statistics(w, SPEC)
    scaler = StandardScaler().fit(stats)
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=0)
    clf.fit(scaler.transform(stats), y)
    return stats, clf.predict_proba(scaler.transform(stats))


def test_numpy_proba_equals_sklearn_binary(two_class) -> None:
    model, w_tr, y_tr, w_te, _ = two_class
    _, ref = _sklearn_proba(w_tr, y_tr, 1.0)
    np.testing.assert_allclose(model.predict_proba(w_tr), ref, atol=1e-6)
    assert model.predict_proba(w_te).shape == (len(w_te), 2)


def test_numpy_proba_equals_sklearn_multiclass() -> None:
    rng = np.random.default_rng(3)
    w, y = _dataset(rng, [0.3, 0.9, 1.8], 12)
    model = fit_baseline(w, y, ["a", "b", "c"], SPEC, C=0.5)
    _, ref = _sklearn_proba(w, y, 0.5)
    np.testing.assert_allclose(model.predict_proba(w), ref, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(w).sum(axis=1), 1.0)


def test_json_round_trip(two_class, tmp_path) -> None:
    model, _, _, w_te, _ = two_class
    path = model.save(tmp_path / "sub" / "baseline.json")
    assert [p.name for p in path.parent.iterdir()] == ["baseline.json"]  # no temp file left
    raw = json.loads(path.read_text())
    assert raw["labels"] == ["slow", "fast"]
    loaded = BaselineModel.load(path)
    assert loaded == model
    np.testing.assert_array_equal(loaded.predict_proba(w_te), model.predict_proba(w_te))
    assert BaselineModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model


def test_rejects_bad_inputs(two_class) -> None:
    model, w_tr, y_tr, _, _ = two_class
    with pytest.raises(ValueError):
        fit_baseline(w_tr, np.zeros(len(w_tr), dtype=int), ["slow", "fast"], SPEC)
    d = model.to_dict()
    d["coef"] = d["coef"] + d["coef"]
    with pytest.raises(ValueError):
        BaselineModel.from_dict(d)


def test_import_does_not_load_sklearn() -> None:
    code = "import sys, training.baseline; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
