"""Camera realism in training windows: the pose estimator's visibility runs and dancers appearing."""

from __future__ import annotations

import numpy as np

from edge.features import BODY_JOINTS, FeatureSpec, Track
from training.augment import CAMERA_INVISIBLE, AugmentConfig, camera_dropouts


def _track(seconds: float = 600.0, fps: float = 30.0) -> Track:
    t = np.arange(0, seconds, 1 / fps)
    return Track(t, np.zeros((len(t), len(BODY_JOINTS), 2)), np.ones((len(t), len(BODY_JOINTS)), bool))


def test_camera_dropouts_match_the_measured_rates_and_run_lengths():
    cfg = AugmentConfig(camera_dropout_scale=(1.0, 1.0), camera_dropout_run_seconds=1.0)
    out = camera_dropouts(_track(), np.random.default_rng(0), cfg)
    hidden = ~out.ok
    for j, name in enumerate(BODY_JOINTS):
        rate = CAMERA_INVISIBLE[name]
        assert abs(hidden[:, j].mean() - rate) < 0.05 + 0.15 * rate, name
        if rate > 0.1:
            d = np.diff(np.r_[0, hidden[:, j].astype(int), 0])
            runs = (np.flatnonzero(d == -1) - np.flatnonzero(d == 1)) / 30.0
            assert 0.7 < runs.mean() < 1.4, (name, runs.mean())
    # the head and shoulders are never lost; positions are untouched
    assert out.ok[:, [0, 1, 2]].all() and (out.xy == 0).all()


def test_camera_dropouts_scale_zero_is_identity():
    track = _track(10.0)
    out = camera_dropouts(track, np.random.default_rng(0), AugmentConfig(camera_dropout_scale=(0.0, 0.0)))
    assert out.ok.all()


def test_appearing_dancer_windows_are_partly_empty():
    from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times
    from training.augment import sample_window

    spec = FeatureSpec(lag_seconds=0.5)
    t = uniform_times(600, 30.0)
    pts = np.random.default_rng(1).normal(0, 0.05, (600, NUM_LANDMARKS, 3)).astype(np.float32)
    for name, (x, y) in {"left_shoulder": (0.2, 1.5), "right_shoulder": (-0.2, 1.5), "left_hip": (0.15, 1.0),
                         "right_hip": (-0.15, 1.0), "nose": (0, 1.7), "left_knee": (0.15, 0.5),
                         "right_knee": (-0.15, 0.5)}.items():
        pts[:, LANDMARK[name], 0] += x
        pts[:, LANDMARK[name], 1] += y
    seq = PoseSequence(points=pts, mask=np.ones((600, NUM_LANDMARKS), bool), times=t, fps=30.0, frame="world",
                       label="x", group="g", source="syn", clip_id="syn")
    cfg = AugmentConfig(appear_prob=1.0, gap_prob=0.0, frame_drop=0.0, drop_legs_prob=0.0, drop_joint_prob=0.0)
    valid = [sample_window(seq, np.random.default_rng(i), spec, cfg)[1] for i in range(20)]
    assert min(valid) >= 0.4 and max(valid) <= 1.0 and np.mean(valid) < 0.9
