"""The real-video evaluation: replay through the runtime, segments, scores and intervals,
``edgerec evaluate --runtime`` and ``edgerec realvideo`` (smoke run, slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.features import FeatureSpec
from edge.runtime import RuntimeConfig
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times
from training.realvideo import (
    ClipResult, MemoryStyleModel, frames, replay, segments, summarise, wilson, with_threshold_scale,
)

SPEC = FeatureSpec(lag_seconds=0.5)
LABELS = ["salsa", "waltz"]


def _dancer(seconds: float = 20.0, fps: float = 30.0, label: str = "salsa", start: float = 0.0,
            group: str = "dancer:x") -> PoseSequence:
    """A stick figure stepping side to side, swinging its limbs, in a 640x480 image; nobody before
    ``start`` s."""
    t = uniform_times(int(seconds * fps), fps)
    pts = np.zeros((len(t), NUM_LANDMARKS, 3), np.float32)
    base = {"nose": (320, 100), "left_ear": (330, 100), "right_ear": (310, 100), "left_shoulder": (350, 150),
            "right_shoulder": (290, 150), "left_elbow": (370, 200), "right_elbow": (270, 200),
            "left_wrist": (380, 250), "right_wrist": (260, 250), "left_hip": (340, 260), "right_hip": (300, 260),
            "left_knee": (345, 340), "right_knee": (295, 340), "left_ankle": (350, 420), "right_ankle": (290, 420)}
    sway = 20 * np.sin(2 * np.pi * 1.2 * t)
    mask = np.zeros((len(t), NUM_LANDMARKS), bool)
    # the limbs swing too: a body that only slides rigidly has no motion of its own (the runtime says "still")
    swing = {"left_wrist": 30, "right_wrist": -30, "left_elbow": 15, "right_elbow": -15, "left_ankle": 20,
             "right_ankle": -20, "left_knee": 10, "right_knee": -10}
    for name, (x, y) in base.items():
        pts[:, LANDMARK[name], 0] = x + sway
        pts[:, LANDMARK[name], 1] = y + swing.get(name, 0) * np.sin(2 * np.pi * 1.2 * t)
        mask[:, LANDMARK[name]] = t >= start
    return PoseSequence(points=pts, mask=mask, times=t, fps=fps, frame="image", label=label, group=group,
                        source="openpose", clip_id=f"syn:{label}", image_size=(640, 480))


def _constant(probs, threshold=None):
    """A stand-in classifier that always answers the same (no calibration; unsure below ``threshold``)."""
    p = np.asarray(probs, np.float64)

    def predict(x):
        return np.repeat(p[None], len(x), axis=0), None

    return MemoryStyleModel(predict, LABELS, SPEC, None, "const", prob_threshold=threshold)


def test_frames_normalise_and_mark_unseen_landmarks():
    seq = _dancer(2.0, start=1.0)
    fr = list(frames(seq))
    assert len(fr) == seq.num_frames and fr[0].pose is not None and not fr[0].pose.found
    lm = fr[-1].pose.landmarks
    assert lm.shape == (33, 4) and lm.dtype == np.float32
    i = LANDMARK["left_hip"]
    assert lm[i, 0] == pytest.approx(seq.points[-1, i, 0] / 640) and lm[i, 3] == 1.0
    assert lm[LANDMARK["left_pinky"], 3] == 0.0  # never seen: visibility 0, so the runtime masks it


def test_segments_cut_long_recordings_and_keep_short_ones():
    long = _dancer(65.0)
    segs = segments(long, 20.0, 10.0)
    # 0-20, 20-40, 40-65 (the 5 s remainder joins the last)
    assert [round(s.duration) for s in segs] == [20, 20, 25]
    assert all(s.times[0] == 0.0 and s.group == long.group for s in segs)
    assert sum(s.num_frames for s in segs) == long.num_frames
    short = _dancer(25.0)
    assert segments(short, 20.0, 10.0) == [short]


def test_replay_scores_what_the_runtime_shows():
    seq = _dancer(12.0, start=2.0)
    right = replay(_constant([0.9, 0.1]), seq, RuntimeConfig(min_valid=0.5))
    assert right.in_set and right.decided > 5 and right.right == right.decided and right.unsure == 0
    assert right.majority == "salsa" and right.correct
    # the first style needs half a window of dancer plus the lag, and comes on a 0.5 s hop
    need = 0.5 * SPEC.window_seconds + SPEC.latency_seconds
    assert need - 0.5 <= right.first_style_s <= need + 0.6
    wrong = replay(_constant([0.2, 0.8]), seq, RuntimeConfig(min_valid=0.5))
    assert wrong.majority == "waltz" and not wrong.correct and wrong.right == 0
    unsure = replay(_constant([0.45, 0.55], threshold=0.6), seq, RuntimeConfig(min_valid=0.5))
    assert unsure.unsure == unsure.decided and unsure.majority == "unsure" and unsure.first_style_s is None


def test_out_of_set_counts_confident_answers():
    seq = _dancer(12.0, label="bachata")
    r = replay(_constant([0.95, 0.05]), seq, RuntimeConfig(min_valid=0.5))
    assert not r.in_set and r.shown == r.decided == r.confident_shown and not r.mostly_unsure
    s = summarise([r])
    assert s["out_of_set_confidently_wrong"]["rate"] == 1.0 and s["out_of_set_mostly_unsure"]["rate"] == 0.0


def test_summarise_rates_and_dancer_intervals():
    def clip(group, right, decided, label="salsa"):
        return ClipResult(f"{group}-{right}", label, group, "openpose", True, 20.0, decided, right,
                          decided - right, right, right, {label: right} if right else {},
                          3.0 if right else None, 3.0)

    rs = [clip("a", 10, 10), clip("a", 8, 10), clip("b", 0, 10), clip("c", 10, 10)]
    s = summarise(rs)
    assert s["clips_right"]["k"] == 3 and s["clips_right"]["n"] == 4
    assert s["windows_right"]["rate"] == pytest.approx(28 / 40)
    assert s["in_set_unsure"]["rate"] == pytest.approx(12 / 40)
    lo, hi = s["windows_right"]["ci95_dancers"]
    assert 0.0 <= lo < 28 / 40 < hi <= 1.0
    assert s["first_style_s"] == {"median": 3.0, "max": 3.0, "within_3s": 3, "clips_with_a_style": 3, "clips": 4}
    json.dumps(s, allow_nan=False)


def test_wilson_interval():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.490, abs=1e-3) and hi == pytest.approx(0.943, abs=1e-3)
    assert wilson(0, 0) == (None, None)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0


def test_threshold_scale_moves_only_the_distance_threshold():
    from edge.classify.calibration import Calibration

    cal = Calibration(1.5, np.zeros((2, 3)), np.eye(3), 2.0, 0.5)
    m = MemoryStyleModel(lambda x: (np.full((len(x), 2), 0.5), np.zeros((len(x), 3))), LABELS, SPEC, cal)
    scaled = with_threshold_scale(m, 1.5)
    assert scaled.calibration.distance_threshold == 3.0
    assert scaled.calibration.temperature == 1.5 and scaled.labels == LABELS


# --------------------------------------------------------------------------- real data


def test_evaluate_runtime_on_a_real_video_folder(data_root, tmp_path):
    """The shipped model, replayed on Ana's real salsa video (landmarks beside it) and a
    bachata clip: strict JSON, the salsa clip scored in-set, bachata out-of-set."""
    from training.cli import evaluate

    for rel in ("realvideo/salsa/ana_salsa_overlay", "realvideo/bachata/basic__basic"):
        src = data_root / rel
        dst = tmp_path / "realvideo" / Path(rel).parent.name
        dst.mkdir(parents=True, exist_ok=True)
        for suffix in (".mp4", "_mediapipe33.npy"):
            shutil.copy(str(src) + suffix, dst / (src.name + suffix))
    model = Path(__file__).resolve().parents[1] / "edge" / "assets" / "default_edge_float16.tflite"
    res = CliRunner().invoke(evaluate, [str(model), str(tmp_path), "--runtime", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    clips = {c["clip"]: c for c in out["clips"]}
    assert clips["realvideo:salsa/ana_salsa_overlay"]["in_set"] is True
    assert clips["realvideo:bachata/basic__basic"]["in_set"] is False
    assert all(c["decided"] > 0 for c in clips.values())
    assert out["level"] == "runtime decisions" and out["all"]["in_set_clips"] == 1


def test_evaluate_runtime_bad_model_is_one_line(tmp_path):
    from training.cli import evaluate

    bad = tmp_path / "m.tflite"
    bad.write_bytes(b"not a model")
    res = CliRunner().invoke(evaluate, [str(bad), str(tmp_path), "--runtime"])
    assert res.exit_code != 0 and "Error:" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_realvideo_command_smoke_run(data_root, tmp_path):
    """`edgerec realvideo --quick` on a small copy of the shared data writes a strict-JSON
    report with every section (a smoke run: tiny training, numbers not meaningful)."""
    from training.cli import realvideo

    small = tmp_path / "data"
    (small / "openpose").mkdir(parents=True)
    shutil.copytree(data_root / "openpose" / "salsa", small / "openpose" / "salsa")
    (small / "realvideo" / "bachata").mkdir(parents=True)
    shutil.copytree(data_root / "realvideo" / "salsa", small / "realvideo" / "salsa")
    for stem in ("basic__basic", "spin__double_spin"):
        for suffix in (".mp4", "_mediapipe33.npy"):
            shutil.copy(data_root / "realvideo" / "bachata" / (stem + suffix), small / "realvideo" / "bachata")
    (small / "cmu_salsa").mkdir()
    for take in ("60_01", "61_01", "60_02", "61_02"):
        shutil.copy(data_root / "cmu_salsa" / f"{take}.bvh.gz", small / "cmu_salsa")
    (small / "music2dance").mkdir()
    for clip in sorted(p.name for p in (data_root / "music2dance").iterdir() if p.name.startswith("DANCE_W"))[:3]:
        shutil.copytree(data_root / "music2dance" / clip, small / "music2dance" / clip)
    out = tmp_path / "report"
    res = CliRunner().invoke(realvideo, ["--data", str(small), "--out", str(out), "--quick", "--no-aistpp"])
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert [f["name"] for f in rep["protocol"]["folds"]] == ["dancer:ana", "dancer:eero", "dancer:gustavo"]
    assert set(rep["models"]) == {"edge", "edge-val", "baseline"}
    edge = rep["models"]["edge"]
    assert set(edge["per_dancer"]) == {"dancer:ana", "dancer:eero", "dancer:gustavo"}
    assert set(edge["per_out_of_set_style"]) == {"bachata"}
    # Ana's video sits with her OpenPose recording in one fold: never trained on when tested
    ana = [c for c in edge["clips"] if "ana_salsa" in c["clip"]]
    assert ana and {c["fold"] for c in ana} == {"dancer:ana"}
    # the threshold of each dancer fold comes from the other dancers' ratios only
    for fold in rep["protocol"]["folds"]:
        assert fold["kind"] == "dancer"
        in_set = [m for m in fold["models"] if "in-set test clips" in m["scores"]]
        assert len(in_set) == 1
    text = (out / "report.md").read_text()
    for heading in ("## Targets", "## Unseen real dancers", "## Out-of-set real clips", "## What gives"):
        assert heading in text


def test_evaluate_runtime_runs_plain_videos_through_the_pose_stage(data_root, tmp_path, monkeypatch):
    """A folder of videos with no landmarks: extracted (cached) with the runtime's pose stage,
    labelled by the video's folder, then replayed."""
    from training.cli import evaluate

    pytest.importorskip("cv2")
    from edge.pose.models import find_pose_models

    try:
        find_pose_models(None, "float32")
    except FileNotFoundError as exc:
        pytest.skip(f"pose models not cached ({exc})")
    monkeypatch.setattr("training.realvideo.landmark_cache", lambda: tmp_path / "cache" / "landmarks")
    videos = tmp_path / "videos" / "salsa"
    videos.mkdir(parents=True)
    shutil.copy(data_root / "realvideo" / "salsa" / "ana_salsa_overlay.mp4", videos)
    model = Path(__file__).resolve().parents[1] / "edge" / "assets" / "default_edge_float16.tflite"
    res = CliRunner().invoke(evaluate, [str(model), str(tmp_path / "videos"), "--runtime", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (clip,) = out["clips"]
    assert clip["label"] == "salsa" and clip["in_set"] and clip["decided"] > 10
    assert list((tmp_path / "cache" / "landmarks").rglob("*_mediapipe33.npy"))
