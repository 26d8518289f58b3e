"""Dataset discovery and loaders on the real shared data, plus grouping, folds and windows.

Real-data tests use the ``data_root`` fixture (tests/conftest.py) and are skipped when the
data folder is absent. What the left/right check found on the shared data: in every
Music-to-Dance clip the left hip and left shoulder lie on the performer's left
(``cross(up, toe - heel)``) in 98.7-100% of frames, so the loader is not mirrored.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from edge.features import FeatureSpec
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times
from training import datasets
from training.augment import clip_windows
from training.datasets import aistpp, music2dance
from training.windows import link_shared_groups, make_folds, remove_shared_motion, split_labels, training_windows

#: Labels each source must provide. Checked as "at least these", never as exact counts, so
#: that adding data to the shared folder never turns CI red.
REQUIRED_LABELS = {
    "music2dance": {"cha-cha", "rumba", "waltz"},
    "cmu": {"salsa"},
    "aistpp": {"house", "krump", "middlehiphop"},
    "openpose": {"salsa"},
    "realvideo": {"salsa", "bachata"},
    "mediapipe": {"ballet", "belly_dancing", "gangnam_style", "macarena"},
}
IMAGE_SOURCES = {"aistpp", "openpose", "realvideo", "mediapipe"}
CORE = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


@pytest.fixture(scope="module")
def refs(data_root):
    return datasets.discover(data_root)


@pytest.fixture(scope="module")
def seqs(refs) -> list[PoseSequence]:
    return [datasets.load(r) for r in refs]


@pytest.fixture(scope="module")
def linked(seqs) -> list[PoseSequence]:
    return remove_shared_motion(seqs)


def _by(seqs, source):
    return [s for s in seqs if s.source == source]


# ------------------------------------------------------------------ discovery and loaders


def test_discover_finds_every_source(refs):
    found = Counter(r.source for r in refs)
    assert set(found) == set(REQUIRED_LABELS), found
    assert len({r.path for r in refs}) == len(refs), "a file was found by two sources"


def test_discover_missing_folder_mentions_env_var(tmp_path):
    with pytest.raises(FileNotFoundError, match="EDGEREC_DATA"):
        datasets.discover(tmp_path / "nowhere")


def test_loaders_give_valid_sequences(seqs):
    assert {s.source for s in seqs} == set(REQUIRED_LABELS)
    for s in seqs:
        assert s.points.shape == (s.num_frames, NUM_LANDMARKS, 3) and s.points.dtype == np.float32
        assert s.mask.shape == (s.num_frames, NUM_LANDMARKS) and s.mask.dtype == bool
        assert np.isfinite(s.points).all(), s.clip_id
        assert s.num_frames > 10 and s.fps > 0
        assert np.all(np.diff(s.times) > 0)
        assert s.group and s.clip_id and s.path
        assert s.frame == ("image" if s.source in IMAGE_SOURCES else "world"), s.clip_id
        if s.frame == "image":
            assert s.image_size is not None
            assert (s.points[..., 2] == 0).all()
        # every source provides the core body joints; a real video may never see one well
        # enough (bachata's basic never shows the left elbow at visibility 0.5)
        present = s.present[[LANDMARK[n] for n in CORE]]
        if s.source in ("realvideo", "mediapipe"):
            assert present[[0, 1, 6, 7]].all() and present.mean() > 0.8, s.clip_id
        else:
            assert present.all(), s.clip_id
        if s.source in ("mediapipe", "realvideo"):
            # mask False exactly where the file has no pose; low visibility masks more
            raw = np.load(s.path)
            found = ~np.isnan(raw[..., 0])
            assert not (s.mask & ~found).any(), s.clip_id
            assert not (s.mask & (np.nan_to_num(raw[..., 3]) < 0.5)).any(), s.clip_id
            assert s.mask.any(axis=1).mean() == pytest.approx(found.any(axis=1).mean())
            assert s.mask.any(axis=1).mean() > 0.5, s.clip_id  # measured 0.57 (belly_dancing) to 1.0
        elif s.source == "openpose":
            # in pixels of the frame meta.json gives, found in every frame sampled here
            w, h = s.image_size
            seen = s.points[s.mask]
            assert (seen[:, 0] >= 0).all() and (seen[:, 0] <= w).all() and (seen[:, 1] <= h).all(), s.clip_id
            assert s.mask.any(axis=1).mean() > 0.95, s.clip_id
            assert s.group == f"dancer:{s.meta['dancer'].lower()}"
        else:
            # mocap and AIST++ see the core joints in (nearly) every frame
            core = s.mask[:, [LANDMARK[n] for n in CORE]]
            assert core.all(axis=1).mean() > 0.95, s.clip_id
            if s.frame == "world":  # mocap markers never drop out: the mask is the joint set
                assert (s.mask == s.present[None]).all(), s.clip_id
    for source, labels in REQUIRED_LABELS.items():
        assert labels <= {s.label for s in _by(seqs, source)}, source


def test_labels_follow_names(seqs):
    letters = {"C": "cha-cha", "R": "rumba", "W": "waltz"}
    for s in _by(seqs, "music2dance"):
        assert s.label == letters[Path(s.path).name.split("_")[1]]
    for s in _by(seqs, "aistpp"):
        assert s.label == Path(s.path).parent.name
    for s in _by(seqs, "mediapipe"):
        assert Path(s.path).name == f"{s.label}_mediapipe33.npy"
    for s in _by(seqs, "realvideo"):
        assert Path(s.path).parent.name == s.label and Path(s.path).parent.parent.name == "realvideo"
    for s in _by(seqs, "openpose"):
        assert Path(s.path).parent.name == s.label and (Path(s.path) / "meta.json").exists()


def test_openpose_frame_rate_matches_the_salsa_step(seqs):
    """meta.json's 30 fps checked against the motion: the feet's left-right alternation
    repeats every 4 counts of the basic, which at 30 fps is 150-170 BPM (42-48 frames,
    measured), a normal salsa tempo; at the 120 fps the 4x JSON frame count of Ana could
    suggest, it would be over 600 BPM."""
    for s in _by(seqs, "openpose"):
        dx = s.points[:, LANDMARK["left_ankle"], 0] - s.points[:, LANDMARK["right_ankle"], 0]
        dx = (dx - np.convolve(dx, np.ones(61) / 61, "same"))[100:-100]
        ac = np.correlate(dx, dx, "full")[len(dx) - 1:]
        ac /= ac[0]
        lag = int(np.argmax(ac[int(s.fps * 0.8):int(s.fps * 2.5)])) + int(s.fps * 0.8)
        bpm = 4 * 60 * s.fps / lag
        assert 120 <= bpm <= 220, (s.clip_id, lag, bpm)


def test_real_video_of_a_named_dancer_joins_her_group(linked):
    ana = [s for s in linked if s.label == "salsa" and "ana" in Path(s.path).name.lower()]
    assert {s.source for s in ana} == {"openpose", "realvideo"}
    assert {s.group for s in ana} == {"dancer:ana"}
    bachata = [s for s in linked if s.label == "bachata"]
    assert len({s.group for s in bachata}) == 1, "one couple is one group"


def test_music2dance_frame_rates(seqs):
    for s in _by(seqs, "music2dance"):
        if s.label in ("cha-cha", "rumba"):
            assert s.fps == 25.0, s.clip_id
        else:
            assert 5.3 <= s.fps <= 6.3, (s.clip_id, s.fps)
        np.testing.assert_allclose(s.times, uniform_times(s.num_frames, s.fps))


def test_music2dance_body_height_in_metres(seqs):
    for s in _by(seqs, "music2dance"):
        p = s.points.astype(np.float64)
        ears = (p[:, LANDMARK["left_ear"]] + p[:, LANDMARK["right_ear"]]) / 2
        ankles = (p[:, LANDMARK["left_ankle"]] + p[:, LANDMARK["right_ankle"]]) / 2
        height = np.median(ears[:, 1] - ankles[:, 1])  # y up
        assert 1.2 <= height <= 2.0, (s.clip_id, height)


def test_music2dance_left_is_on_the_performers_left(seqs):
    up = np.array([0.0, 1.0, 0.0])
    for s in _by(seqs, "music2dance"):
        p = s.points.astype(np.float64)
        forward = sum(p[:, LANDMARK[f"{side}_foot_index"]] - p[:, LANDMARK[f"{side}_heel"]]
                      for side in ("left", "right"))
        forward[:, 1] = 0.0
        left = np.cross(up, forward)
        for joint in ("hip", "shoulder"):
            across = p[:, LANDMARK[f"left_{joint}"]] - p[:, LANDMARK[f"right_{joint}"]]
            frac = float((np.sum(across * left, axis=1) > 0).mean())
            # measured 0.987-1.0 over all 41 clips; a mirrored loader would give ~0
            assert frac > 0.9, (s.clip_id, joint, frac)


def test_aistpp_pixels_and_fps(seqs):
    for s in _by(seqs, "aistpp"):
        assert s.fps == 30.0 and s.image_size == (1920, 1080)
        xy = s.points[..., :2][s.mask]
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= 1920) & (xy[:, 1] >= 0) & (xy[:, 1] <= 1080)
        assert inside.mean() > 0.95, s.clip_id
        # a person, not the whole frame: a torso of plausible size in pixels
        sh = s.points[:, LANDMARK["left_shoulder"], :2] - s.points[:, LANDMARK["left_hip"], :2]
        assert 50 < np.median(np.linalg.norm(sh, axis=1)) < 600


# ------------------------------------------------------------------------ malformed files


def test_aistpp_malformed_file_names_it(data_root, tmp_path):
    folder = tmp_path / "aist" / "house"
    folder.mkdir(parents=True)
    shutil.copy(data_root / "aistpp" / aistpp.SCALER_NAME, tmp_path / "aist" / aistpp.SCALER_NAME)
    bad = folder / "broken_clip.npy"
    np.save(bad, np.zeros((20, 33), dtype=np.float32))
    refs = datasets.discover(tmp_path / "aist")
    assert [r.path for r in refs] == [bad]
    with pytest.raises(ValueError, match="broken_clip.npy"):
        datasets.load(refs[0])


@pytest.mark.parametrize("name", ["skeletons.json", "skeletons.json.gz"])
def test_music2dance_broken_json_names_file(tmp_path, name):
    folder = tmp_path / "DANCE_W_99"
    folder.mkdir()
    text = b'{"length": 3, "center": [[0, 0, 0]], "skeletons": [[[0,'
    (folder / name).write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    refs = datasets.discover(tmp_path)
    assert [(r.source, r.path) for r in refs] == [("music2dance", folder)]
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        datasets.load(refs[0])


def test_music2dance_wrong_shape_names_file(tmp_path):
    folder = tmp_path / "DANCE_C_99"
    folder.mkdir()
    data = {"length": 3, "center": [[0, 0, 0]] * 3, "skeletons": [[[0, 0, 0]] * 22] * 3}
    (folder / "skeletons.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="skeletons.json"):
        music2dance.load_clip(folder)


# ------------------------------------------------------------------ groups and folds


def test_shared_waltz_openings_are_trimmed(linked, seqs):
    raw = {Path(s.path).name: s for s in seqs if s.label == "waltz"}
    waltz = [s for s in linked if s.label == "waltz"]
    # W_16 and W_2 share their first 100 frames: trimmed away, no frame is shared any more
    trimmed = {Path(s.path).name: s.meta.get("trimmed_shared_opening_frames", 0) for s in waltz}
    assert trimmed["DANCE_W_16"] >= 100 and trimmed["DANCE_W_2"] >= 100
    assert sum(1 for v in trimmed.values() if v) >= 25
    keys = [set(map(bytes, np.round(s.points[:, 11:17] - s.points[:, [23]], 4))) for s in waltz]
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            assert len(keys[i] & keys[j]) < 2, (waltz[i].clip_id, waltz[j].clip_id)
    # so every clip is its own group, and audio stays aligned with the cut
    assert len({s.group for s in waltz}) == len(waltz)
    w16 = next(s for s in waltz if s.clip_id.endswith("W_16"))
    cut = trimmed["DANCE_W_16"]
    assert w16.audio_offset == pytest.approx(raw["DANCE_W_16"].audio_offset + cut / raw["DANCE_W_16"].fps)
    # only shared frames merge: cha-cha and rumba clips stay on their own
    for s in linked:
        if s.label in ("cha-cha", "rumba"):
            assert s.group == f"music2dance:{Path(s.path).name}"
    # the two CMU partners of a take share a group already; nothing else joins them
    cmu_groups = Counter(s.group for s in linked if s.source == "cmu")
    assert set(cmu_groups.values()) == {2}


def test_link_shared_groups_never_mixes_labels(linked):
    labels = defaultdict(set)
    for s in linked:
        labels[s.group].add(s.label)
    assert all(len(v) == 1 for v in labels.values()), {g: v for g, v in labels.items() if len(v) > 1}


def _synthetic_world(clip: str, seed: int, label: str = "waltz", frames: int = 60) -> PoseSequence:
    rng = np.random.default_rng(seed)
    pts = rng.normal(0, 0.3, (frames, NUM_LANDMARKS, 3)).astype(np.float32)
    return PoseSequence(points=pts, mask=np.ones((frames, NUM_LANDMARKS), bool),
                        times=uniform_times(frames, 25.0), fps=25.0, frame="world", label=label,
                        group=f"syn:{clip}", source="syn", clip_id=f"syn:{clip}")


def test_link_shared_groups_synthetic():
    a, b, c = (_synthetic_world(n, i) for i, n in enumerate("abc"))
    out = link_shared_groups([a, b, c])
    assert [s.group for s in out] == ["syn:a", "syn:b", "syn:c"]
    # give b 20 of a's frames: now they merge, c stays alone
    pts = b.points.copy()
    pts[10:30] = a.points[5:25]
    b2 = PoseSequence(**{**b.__dict__, "points": pts})
    out = link_shared_groups([a, b2, c])
    assert out[0].group == out[1].group != out[2].group


def test_make_folds(linked):
    labels, inset, outset = split_labels(linked)
    assert {"waltz", "salsa"} <= set(labels)
    assert REQUIRED_LABELS["mediapipe"] | {"bachata"} <= {s.label for s in outset}
    assert not set(labels) & {s.label for s in outset}
    k = 5
    folds = make_folds(inset, k)
    fold_of_group = defaultdict(set)
    for s in inset:
        fold_of_group[s.group].add(folds.assignment[s.group])
    assert all(len(v) == 1 for v in fold_of_group.values())
    seen = []
    for f in range(k):
        train, test = folds.split(inset, f)
        assert len(train) + len(test) == len(inset)
        assert not ({s.group for s in train} & {s.group for s in test})
        assert {"waltz", "salsa"} <= {s.label for s in test}, f
        seen += [s.clip_id for s in test]
    assert sorted(seen) == sorted(s.clip_id for s in inset)


# ------------------------------------------------------------------------------- CLI


def test_data_info_json(data_root, refs, seqs):
    from click.testing import CliRunner

    from training.cli import data

    result = CliRunner().invoke(data, ["info", "--json", str(data_root)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    want = Counter((s.source, s.label) for s in seqs)
    got = {(r["source"], r["label"]): r["clips"] for r in rows}
    assert got == dict(want)
    assert sum(got.values()) == len(refs)
    for r in rows:
        assert 1 <= r["groups"] <= r["clips"] and r["minutes"] > 0 and r["frames_resampled"] > 0


# --------------------------------------------------------------------------- windows


def test_training_windows_balanced(linked):
    labels, inset, _ = split_labels(linked)
    spec = FeatureSpec()
    ws = training_windows(inset, labels, spec, per_class=10, seed=0, workers=1)
    assert ws.x.ndim == 3 and ws.x.shape[1:] == (spec.window_frames, spec.num_channels)
    assert ws.x.dtype == np.float32 and np.isfinite(ws.x).all()
    assert len(ws.y) == len(ws.x) == len(ws.clip)
    counts = np.bincount(ws.y, minlength=len(labels))
    assert counts.min() >= 8 and counts.max() <= 10, counts
    # every window's label is the label of the clip it came from
    assert all(labels[y] == ws.clip_labels[c] for y, c in zip(ws.y, ws.clip))


def _synthetic_dancer(seconds: float = 30.0, fps: float = 30.0) -> PoseSequence:
    """A swaying 2D stick figure in a 1280x720 frame with all body landmarks."""
    n = int(seconds * fps)
    t = uniform_times(n, fps)
    base = {
        "nose": (640, 180), "left_ear": (655, 175), "right_ear": (625, 175),
        "left_shoulder": (680, 240), "right_shoulder": (600, 240), "left_elbow": (710, 320),
        "right_elbow": (570, 320), "left_wrist": (720, 400), "right_wrist": (560, 400),
        "left_hip": (665, 420), "right_hip": (615, 420), "left_knee": (670, 530),
        "right_knee": (610, 530), "left_ankle": (672, 640), "right_ankle": (608, 640),
    }
    pts = np.zeros((n, NUM_LANDMARKS, 3), np.float32)
    mask = np.zeros((n, NUM_LANDMARKS), bool)
    sway = 30 * np.sin(2 * np.pi * 0.8 * t)
    for name, (x, y) in base.items():
        pts[:, LANDMARK[name], 0] = x + sway
        pts[:, LANDMARK[name], 1] = y + 10 * np.cos(2 * np.pi * 1.3 * t)
        mask[:, LANDMARK[name]] = True
    return PoseSequence(points=pts, mask=mask, times=t, fps=fps, frame="image", label="test",
                        group="syn:dancer", source="syn", clip_id="syn:dancer", image_size=(1280, 720))


def test_clip_windows_skips_windows_without_a_body():
    spec = FeatureSpec()
    full = _synthetic_dancer()
    w_full = clip_windows(full, spec, hop_seconds=1.0)
    # newest-frame times 5.4, 6.4, ... 29.4 (the window lags them by spec.latency_seconds = 0.5 s)
    assert spec.latency_seconds == 0.5
    assert w_full.shape == (25, spec.window_frames, spec.num_channels)
    assert np.isfinite(w_full).all()
    mask = full.mask.copy()
    mask[(full.times >= 10.0) & (full.times < 20.0)] = False
    gap = PoseSequence(**{**full.__dict__, "mask": mask})
    w_gap = clip_windows(gap, spec, hop_seconds=1.0)
    # windows more than half inside the 10 s gap are left out
    assert 13 <= len(w_gap) <= 17, len(w_gap)
    assert np.isfinite(w_gap).all()
    vis = [i for i, c in enumerate(spec.channels) if c.startswith("vis_")]
    assert (w_gap[:, :, vis].mean(axis=(1, 2)) >= 0.5).all()
    empty = PoseSequence(**{**full.__dict__, "mask": np.zeros_like(full.mask)})
    assert clip_windows(empty, spec, hop_seconds=1.0).shape == (0, spec.window_frames, spec.num_channels)
