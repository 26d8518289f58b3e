"""Hand-computed checks of edge.features and the landmark-file loader (no real data needed).

Tolerances for the frame-rate invariance were measured on 1 Hz sines of amplitude 1 over
13 window end times x 4 phases (max abs difference to the 60 fps result, all 50 frames):
5.9 fps 0.109, 10 fps 0.037, 25 fps 0.006, 30 fps 0.006; with +-30% of a frame period of
timestamp jitter: 10 fps 0.064, 30 fps 0.007. The residual at low rates is the droop of
linear interpolation (about sinc^2(f / fps): 9% at 5.9 fps, 3% at 10 fps), not the filter.
The window lags the newest frame by half the filter kernel (spec.latency_seconds), so the
band limit holds over the whole window, its last frame included.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.features import (
    BODY_JOINTS,
    FEATURE_VERSION,
    FeatureSpec,
    body_points,
    frame_features,
    normalise_window,
    paper_pose_features,
    resample_window,
)
from edge.sources.posefile import load_landmark_file
from edge.core.schema import LANDMARK, NUM_LANDMARKS

SPEC = FeatureSpec(lag_seconds=None)  # the zero-phase filter; the lag has tests of its own
J = {name: i for i, name in enumerate(BODY_JOINTS)}


# --------------------------------------------------------------------------- the paper


def _paper_points() -> tuple[np.ndarray, np.ndarray]:
    """Frame 0: |p0-p1| = 1, right angle at p1. Frame 1: |p0-p1| = 3, straight angle at p1."""
    pts = np.zeros((3, NUM_LANDMARKS, 3))
    pts[0, 0], pts[0, 1], pts[0, 2] = (0, 1, 0), (0, 0, 0), (1, 0, 0)
    pts[1, 0], pts[1, 1], pts[1, 2] = (2, 3, 5), (2, 0, 5), (2, -2, 5)
    pts[2, 0], pts[2, 1], pts[2, 2] = (100, 0, 0), (0, 0, 0), (0, 7, 0)  # masked below
    mask = np.ones((3, NUM_LANDMARKS), dtype=bool)
    mask[2, 2] = False
    return pts, mask


def test_paper_pose_features_single_frame_right_angle():
    pts, _ = _paper_points()
    d, a = paper_pose_features(pts[:1])
    assert d == pytest.approx(1.0)
    assert a == pytest.approx(np.pi / 2, abs=1e-6)


def test_paper_pose_features_mean_over_frames_skips_masked():
    pts, mask = _paper_points()
    d, a = paper_pose_features(pts, mask)
    assert d == pytest.approx((1.0 + 3.0) / 2)
    assert a == pytest.approx((np.pi / 2 + np.pi) / 2, abs=1e-6)
    # without the mask the third (garbage) frame counts and changes the result
    d_all, _ = paper_pose_features(pts)
    assert d_all == pytest.approx((1.0 + 3.0 + 100.0) / 3)


def test_paper_pose_features_all_missing_is_nan():
    pts, mask = _paper_points()
    mask[:, 1] = False
    out = paper_pose_features(pts, mask)
    assert out.shape == (2,)
    assert np.isnan(out).all()


# ------------------------------------------------------------- time base and filtering


def _sine_track(fps: float, freq: float = 1.0, seconds: float = 12.0, phase: float = 0.3,
                jitter: float = 0.0, seed: int = 0):
    """One joint moving on a circle (x = sin, y = cos) sampled at ``fps``, optional time jitter."""
    t = np.arange(0.0, seconds, 1.0 / fps)
    if jitter:
        t = np.sort(t + np.random.default_rng(seed).uniform(-jitter, jitter, len(t)) / fps)
    xy = np.zeros((len(t), 1, 2))
    xy[:, 0, 0] = np.sin(2 * np.pi * freq * t + phase)
    xy[:, 0, 1] = np.cos(2 * np.pi * freq * t + phase)
    return t, xy, np.ones((len(t), 1), dtype=bool)


def _grid(t_end: float) -> np.ndarray:
    return t_end - SPEC.latency_seconds - np.arange(SPEC.window_frames)[::-1] / SPEC.rate


@pytest.mark.parametrize("t_end", [8.0, 9.37])
def test_resample_window_reference_follows_the_sine(t_end):
    out, ok = resample_window(*_sine_track(60.0), t_end, SPEC)
    assert out.shape == (SPEC.window_frames, 1, 2)
    assert ok.all()
    truth = np.sin(2 * np.pi * _grid(t_end) + 0.3)
    # a 1 Hz sine is in the pass band: it comes through unchanged, last frame included
    assert np.abs(out[:, 0, 0] - truth).max() < 0.02


@pytest.mark.parametrize(
    "fps, tol",
    [(5.9, 0.15), (10.0, 0.06), (25.0, 0.02), (30.0, 0.02)],
)
@pytest.mark.parametrize("t_end", [8.0, 9.37])
def test_resample_window_is_frame_rate_invariant(fps, tol, t_end):
    ref, ref_ok = resample_window(*_sine_track(60.0), t_end, SPEC)
    out, ok = resample_window(*_sine_track(fps), t_end, SPEC)
    assert ref_ok.all() and ok.all()
    assert np.abs(out - ref).max() < tol


@pytest.mark.parametrize("fps, tol", [(10.0, 0.1), (30.0, 0.02)])
def test_resample_window_irregular_timestamps(fps, tol):
    t_end = 8.0
    ref, _ = resample_window(*_sine_track(60.0), t_end, SPEC)
    t, xy, m = _sine_track(fps, jitter=0.3, seed=3)
    assert not np.allclose(np.diff(t), 1.0 / fps)  # really irregular
    out, ok = resample_window(t, xy, m, t_end, SPEC)
    assert ok.all()
    assert np.abs(out - ref).max() < tol


def test_resample_window_band_limit_removes_4hz():
    t_end = 8.0
    out, ok = resample_window(*_sine_track(60.0, freq=4.0), t_end, SPEC)
    assert ok.all()
    # spec.cutoff_hz = 2.4: a 4 Hz motion is gone everywhere in the window
    assert np.abs(out).max() < 0.05
    assert SPEC.cutoff_hz < 4.0


def _constant_track(fps: float = 30.0, seconds: float = 12.0):
    t = np.arange(0.0, seconds, 1.0 / fps)
    xy = np.zeros((len(t), 1, 2))
    xy[:, 0, 0] = 5.0
    xy[:, 0, 1] = -2.0
    return t, xy, np.ones((len(t), 1), dtype=bool)


def test_resample_window_long_gap_leaves_frames_invalid():
    t, xy, m = _constant_track()
    t_end = 9.0
    gap = (t >= 5.0) & (t < 5.0 + 2 * SPEC.max_gap_seconds)
    m[gap, 0] = False
    out, ok = resample_window(t, xy, m, t_end, SPEC)
    g = _grid(t_end)
    inside = (g > 5.0 + 0.05) & (g < 5.0 + 2 * SPEC.max_gap_seconds - 0.1)
    assert inside.any()
    assert not ok[inside, 0].any()
    assert (out[inside] == 0).all()
    far = np.abs(g - (5.0 + SPEC.max_gap_seconds)) > 1.5
    assert ok[far, 0].all()
    np.testing.assert_allclose(out[far & ok[:, 0], 0], [[5.0, -2.0]] * int((far & ok[:, 0]).sum()), atol=1e-4)


def test_resample_window_short_gap_is_bridged():
    t, xy, m = _constant_track()
    t_end = 9.0
    m[(t >= 5.0) & (t < 5.0 + SPEC.max_gap_seconds / 2), 0] = False
    out, ok = resample_window(t, xy, m, t_end, SPEC)
    assert ok.all()
    np.testing.assert_allclose(out[:, 0], np.tile([5.0, -2.0], (SPEC.window_frames, 1)), atol=1e-4)


# ------------------------------------------------------------ joints and normalisation


def test_body_points_head_fallbacks():
    pts = np.zeros((4, NUM_LANDMARKS, 3))
    mask = np.zeros((4, NUM_LANDMARKS), dtype=bool)
    L = LANDMARK
    for f in range(4):
        pts[f, L["left_ear"], :2] = (10, 20)
        pts[f, L["right_ear"], :2] = (30, 40)
        pts[f, L["left_eye"], :2] = (100, 200)
        pts[f, L["right_eye"], :2] = (300, 400)
        pts[f, L["nose"], :2] = (-7, 9)
        pts[f, L["left_wrist"], :2] = (1, 2)
    mask[0, [L["left_ear"], L["right_ear"], L["left_eye"], L["right_eye"], L["nose"]]] = True
    mask[1, [L["left_ear"], L["left_eye"], L["right_eye"], L["nose"]]] = True  # one ear only
    mask[2, [L["right_eye"], L["nose"]]] = True                               # one eye only
    mask[:, L["left_wrist"]] = True
    x, ok = body_points(pts, mask)
    h = J["head"]
    assert x.shape == (4, len(BODY_JOINTS), 2) and ok.shape == (4, len(BODY_JOINTS))
    np.testing.assert_allclose(x[0, h], (20, 30))     # ear midpoint
    np.testing.assert_allclose(x[1, h], (200, 300))   # eye midpoint
    np.testing.assert_allclose(x[2, h], (-7, 9))      # nose
    assert ok[:3, h].all() and not ok[3, h]
    np.testing.assert_allclose(x[:, J["left_wrist"]], np.tile([1, 2], (4, 1)))
    assert ok[:, J["left_wrist"]].all() and not ok[:, J["right_wrist"]].any()


def _pose(n: int = 50, seed: int = 0) -> np.ndarray:
    """A moving, roughly human 2D skeleton (pixels, y down) in BODY_JOINTS order."""
    base = {
        "head": (0, -170), "left_shoulder": (25, -130), "right_shoulder": (-25, -130),
        "left_elbow": (40, -90), "right_elbow": (-40, -90), "left_wrist": (45, -50),
        "right_wrist": (-45, -50), "left_hip": (15, -40), "right_hip": (-15, -40),
        "left_knee": (18, 10), "right_knee": (-18, 10), "left_ankle": (20, 60), "right_ankle": (-20, 60),
    }
    rng = np.random.default_rng(seed)
    x = np.array([base[j] for j in BODY_JOINTS], dtype=np.float64)[None].repeat(n, axis=0)
    t = np.arange(n) / 10.0
    x += 8 * np.sin(2 * np.pi * 0.7 * t)[:, None, None] + rng.normal(0, 2, x.shape)
    x += np.array([300.0, 400.0])
    return x


def _torso_lengths(x: np.ndarray) -> np.ndarray:
    s = (x[:, J["left_shoulder"]] + x[:, J["right_shoulder"]]) / 2
    h = (x[:, J["left_hip"]] + x[:, J["right_hip"]]) / 2
    return np.linalg.norm(s - h, axis=1)


def test_normalise_window_translation_and_scale_invariant():
    x = _pose()
    ok = np.ones(x.shape[:2], dtype=bool)
    norm, root, scale = normalise_window(x, ok)
    assert scale > 0
    assert np.median(_torso_lengths(norm)) == pytest.approx(1.0, abs=1e-9)
    hips = (norm[:, J["left_hip"]] + norm[:, J["right_hip"]]) / 2
    np.testing.assert_allclose(hips, 0.0, atol=1e-9)
    norm2, root2, scale2 = normalise_window(x * 3.7 + np.array([-123.0, 55.5]), ok)
    assert scale2 == pytest.approx(3.7 * scale)
    np.testing.assert_allclose(norm2, norm, atol=1e-9)
    # the hip track moves by a constant, so its velocity (what is used) is unchanged
    np.testing.assert_allclose(np.diff(root2, axis=0), np.diff(root, axis=0), atol=1e-9)


def test_normalise_window_upper_body_only():
    x = _pose()
    ok = np.ones(x.shape[:2], dtype=bool)
    for j in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"):
        ok[:, J[j]] = False
    norm, root, scale = normalise_window(x, ok)
    assert scale > 0 and np.isfinite(norm).all() and np.isfinite(root).all()
    assert (norm[:, J["left_hip"]] == 0).all()
    norm2, _, _ = normalise_window(x * 0.5 + 40.0, ok)
    np.testing.assert_allclose(norm2, norm, atol=1e-9)
    feats = frame_features(x, ok, SPEC)
    assert np.isfinite(feats).all()


def test_normalise_window_nothing_visible_is_zero():
    x = _pose()
    norm, root, scale = normalise_window(x, np.zeros(x.shape[:2], dtype=bool))
    assert scale == 0.0 and not norm.any()


# ----------------------------------------------------------------------- frame features


def _channels(prefix: str) -> list[int]:
    return [i for i, c in enumerate(SPEC.channels) if c.startswith(prefix)]


def test_frame_features_shape_and_names():
    x = _pose(SPEC.window_frames)
    ok = np.ones(x.shape[:2], dtype=bool)
    f = frame_features(x, ok, SPEC)
    assert f.shape == (SPEC.window_frames, SPEC.num_channels)
    assert f.dtype == np.float32 and np.isfinite(f).all()
    assert len(SPEC.channels) == SPEC.num_channels == len(set(SPEC.channels))
    nj = len(BODY_JOINTS)
    assert SPEC.num_channels == 3 * 2 * nj + 8 + 2 + nj


def test_frame_features_static_pose_has_zero_motion():
    x = np.repeat(_pose(1), SPEC.window_frames, axis=0)
    ok = np.ones(x.shape[:2], dtype=bool)
    f = frame_features(x, ok, SPEC)
    for prefix in ("vel_", "acc_", "root_vel_"):
        idx = _channels(prefix)
        assert idx, prefix
        assert np.abs(f[:, idx]).max() < 1e-5, prefix
    assert np.abs(f[:, _channels("pos_")]).max() > 0.1
    angles = f[:, _channels("angle_")]
    assert ((angles > 0) & (angles <= 1)).all()  # angles are in units of pi


def test_frame_features_visibility_channels_follow_mask():
    x = _pose(SPEC.window_frames)
    ok = np.ones(x.shape[:2], dtype=bool)
    ok[10:20, J["left_wrist"]] = False
    f = frame_features(x, ok, SPEC)
    vis = f[:, _channels("vis_")]
    assert vis.shape[1] == len(BODY_JOINTS)
    np.testing.assert_array_equal(vis, ok.astype(np.float32))
    col = SPEC.channels.index("pos_left_wrist_x")
    assert (f[10:20, col] == 0).all() and (f[:10, col] != 0).any()


# ------------------------------------------------------------------------- the spec


def test_feature_spec_round_trip():
    for spec in (FeatureSpec(), FeatureSpec(rate=15.0, window_seconds=4.0, cutoff_hz=3.0, max_gap_seconds=0.4)):
        d = spec.to_dict()
        assert d["num_channels"] == spec.num_channels and d["window_frames"] == spec.window_frames
        back = FeatureSpec.from_dict(d)
        assert back == spec
        assert back.channels == spec.channels


def test_feature_spec_wrong_version_raises():
    d = FeatureSpec().to_dict()
    d["version"] = FEATURE_VERSION + 1
    with pytest.raises(ValueError, match="feature version"):
        FeatureSpec.from_dict(d)


# ------------------------------------------------------------------- landmark files


def test_landmark_file_aspect_ratio_and_mask(tmp_path):
    rng = np.random.default_rng(1)
    arr = np.zeros((3, NUM_LANDMARKS, 4), dtype=np.float32)
    arr[..., 0] = rng.uniform(0.1, 0.9, (3, NUM_LANDMARKS))
    arr[..., 1] = rng.uniform(0.1, 0.9, (3, NUM_LANDMARKS))
    arr[..., 2] = rng.normal(0, 0.1, (3, NUM_LANDMARKS))
    arr[..., 3] = 0.9
    arr[0, 5, 3] = 0.3            # low visibility
    arr[1] = np.nan               # no pose found in this frame
    path = tmp_path / "demo_mediapipe33.npy"
    np.save(path, arr)
    seq = load_landmark_file(path, fps=30, image_size=(640, 360))
    assert seq.frame == "image" and seq.image_size == (640, 360) and seq.label == "demo"
    assert seq.fps == 30 and seq.points.shape == (3, NUM_LANDMARKS, 3)
    np.testing.assert_allclose(seq.times, [0, 1 / 30, 2 / 30])
    for f in (0, 2):
        np.testing.assert_allclose(seq.points[f, :, 0], arr[f, :, 0] * 640, rtol=1e-6)
        np.testing.assert_allclose(seq.points[f, :, 1], arr[f, :, 1] * 360, rtol=1e-6)
    assert np.isfinite(seq.points).all()
    assert not seq.mask[1].any()
    assert not seq.mask[0, 5]
    assert seq.mask[0].sum() == NUM_LANDMARKS - 1 and seq.mask[2].all()


def test_landmark_file_wrong_shape_names_file(tmp_path):
    path = tmp_path / "bad_mediapipe33.npy"
    np.save(path, np.zeros((4, 17, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="bad_mediapipe33.npy"):
        load_landmark_file(path, fps=30, image_size=(640, 360))


# --------------------------------------------------------------- a shorter lag (version 2)


def test_lag_sets_where_the_window_ends():
    lagged = FeatureSpec(lag_seconds=0.5)
    assert lagged.latency_seconds == 0.5 and SPEC.latency_seconds == 2.0
    t_end = 9.37
    out, ok = resample_window(*_sine_track(60.0), t_end, lagged)
    grid = t_end - 0.5 - np.arange(lagged.window_frames)[::-1] / lagged.rate
    assert ok.all()
    # the filter's missing future is renormalised: a 1 Hz sine still comes through, to 0.04
    assert np.abs(out[:, 0, 0] - np.sin(2 * np.pi * grid + 0.3)).max() < 0.04


def test_lag_keeps_the_band_limit_close():
    """Measured: with a 0.5 s lag a 3 Hz motion leaks at most 0.058 of its amplitude, 4 Hz 0.028
    (0.006 and 0.004 with the full 2 s lag), so the slowest source's missing band stays hidden."""
    lagged = FeatureSpec(lag_seconds=0.5)
    for freq, limit in ((3.0, 0.07), (4.0, 0.04)):
        for t_end in (8.0, 9.37, 10.11):
            out, _ = resample_window(*_sine_track(60.0, freq=freq), t_end, lagged)
            assert np.abs(out).max() < limit, (freq, t_end)


def test_version_1_specs_still_load_and_mean_the_full_lag():
    d = SPEC.to_dict()
    d["version"] = 1
    d.pop("lag_seconds")
    old = FeatureSpec.from_dict(d)
    assert old.latency_seconds == 2.0 and old.lag_seconds is None
    d["lag_seconds"] = 0.5
    with pytest.raises(ValueError, match="version-1"):
        FeatureSpec.from_dict(d)
    new = FeatureSpec(lag_seconds=0.5)
    assert FeatureSpec.from_dict(new.to_dict()) == new
    d = new.to_dict()
    d.pop("lag_seconds")
    with pytest.raises(ValueError, match="version-2 spec must say its lag_seconds"):
        FeatureSpec.from_dict(d)
    with pytest.raises(ValueError, match="lag_seconds"):
        FeatureSpec(lag_seconds=3.0)
