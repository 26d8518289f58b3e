"""The source classifier: it must find a real difference between sources, and only a real one."""

from __future__ import annotations

import numpy as np

from edge.features import FeatureSpec
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times
from training.augment import AugmentConfig
from training.domain import before_augmentation, family_columns, source_test

SPEC = FeatureSpec()


def _clip(group: str, seed: int, jitter: float, hidden: float = 0.0, source: str = "openpose") -> PoseSequence:
    rng = np.random.default_rng(seed)
    t = uniform_times(600, 30.0)
    base = {"nose": (320, 100), "left_shoulder": (350, 150), "right_shoulder": (290, 150),
            "left_elbow": (370, 200), "right_elbow": (270, 200), "left_wrist": (380, 250),
            "right_wrist": (260, 250), "left_hip": (340, 260), "right_hip": (300, 260), "left_knee": (345, 340),
            "right_knee": (295, 340), "left_ankle": (350, 420), "right_ankle": (290, 420)}
    pts = np.zeros((len(t), NUM_LANDMARKS, 3), np.float32)
    mask = np.zeros((len(t), NUM_LANDMARKS), bool)
    freq = rng.uniform(0.8, 1.4)
    for name, (x, y) in base.items():
        i = LANDMARK[name]
        pts[:, i, 0] = x + 25 * np.sin(2 * np.pi * freq * t) + rng.normal(0, jitter, len(t))
        pts[:, i, 1] = y + 5 * np.cos(2 * np.pi * freq * t) + rng.normal(0, jitter, len(t))
        mask[:, i] = True
        if "wrist" in name and hidden:
            # long runs, as a pose estimator loses a joint (short gaps would be bridged)
            mask[:, i] = (np.arange(len(t)) // 45) % 10 >= int(10 * hidden)
    return PoseSequence(points=pts, mask=mask, times=t, fps=30.0, frame="image", label="salsa", group=group,
                        source=source, clip_id=f"{source}:{group}", image_size=(640, 480))


def test_a_real_difference_is_found_and_traced_to_its_channels():
    real = [_clip(f"real{i}", i, jitter=0.0, hidden=0.6) for i in range(4)]
    train = [_clip(f"mocap{i}", 10 + i, jitter=0.0, source="cmu") for i in range(4)]
    res = source_test("hidden wrists", real, train, SPEC, AugmentConfig.none(), per_group=20)
    assert res.balanced_accuracy > 0.9
    assert res.by_family["visibility"] > 0.8  # some windows fall between the hidden runs
    assert res.real_windows > 0 and res.training_windows == 80 and res.groups == 8


def test_no_difference_is_near_chance():
    real = [_clip(f"real{i}", i, jitter=1.0) for i in range(4)]
    train = [_clip(f"mocap{i}", 10 + i, jitter=1.0, source="cmu") for i in range(4)]
    res = source_test("same", real, train, SPEC, AugmentConfig.none(), per_group=20)
    assert res.balanced_accuracy < 0.75


def test_families_cover_every_statistic_once():
    from training.baseline import statistic_names

    names = statistic_names(SPEC)
    fams = ("positions", "speed level", "speed spectrum", "visibility", "angles", "root motion")
    cover = np.sum([family_columns(names, f) for f in fams], axis=0)
    assert (cover == 1).all()


def test_before_turns_off_only_the_camera_simulation():
    after = AugmentConfig()
    before = before_augmentation(after)
    assert before.camera_dropout_prob == 0 and before.appear_prob == 0 and before.distal_noise == (1.0, 1.0)
    assert before.noise_torso == after.noise_torso and before.yaw_range == after.yaw_range
