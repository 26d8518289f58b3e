"""The streaming runtime: smoothing, states, gaps, upper-body views, and the JSON lines.

Everything here runs from recorded landmarks (``--poses``) or synthetic frames, so no pose
model and no camera are needed.
"""

from __future__ import annotations

import json
import math


import numpy as np
import pytest
from click.testing import CliRunner

from edge.core.assets import default_model_path
from edge.pose.base import PoseResult
from edge.recommend import load_default_catalog
from edge.runtime import STAGES, STATES, Runtime, RuntimeConfig, StyleModel
from edge.runtime.smoothing import OneEuroFilter, StyleSmoother
from edge.sources import Frame

LEGS = [25, 26, 27, 28, 29, 30, 31, 32]


# ------------------------------------------------------------------ JSON line schema

UPDATE_KEYS = {
    "type": str, "schema": int, "t": float, "frame": int, "state": str, "style": (str, type(None)),
    "confidence": (float, type(None)), "probs": (dict, type(None)), "window_probs": (dict, type(None)),
    "unsure": bool, "distance": (float, type(None)), "valid": (float, int), "view": (str, type(None)),
    "window_end": (float, type(None)), "movement_bpm": (float, type(None)), "recommendations": list,
    "latency_ms": dict, "fps": (float, int), "dropped": int,
    "music": (dict, type(None)), "on_beat": (dict, type(None)), "companions": list,
}
REC_KEYS = {"id", "title", "style", "bpm", "mood", "source", "licence", "score", "style_fit", "tempo_fit",
            "sound_fit", "why"}


def check_updates(lines: list[dict], labels: list[str]) -> list[dict]:
    """Assert the documented schema on every update line; returns the updates."""
    updates = [d for d in lines if d["type"] == "update"]
    assert updates, "no update lines"
    last_t = -math.inf
    for u in updates:
        assert set(u) == set(UPDATE_KEYS), set(u) ^ set(UPDATE_KEYS)
        for k, types in UPDATE_KEYS.items():
            assert isinstance(u[k], types) or (types is float and isinstance(u[k], int)), (k, u[k])
        assert u["schema"] == 3 and u["state"] in STATES
        assert u["t"] > last_t, "update times must increase"
        last_t = u["t"]
        assert set(u["latency_ms"]) == set(STAGES) and all(v >= 0 for v in u["latency_ms"].values())
        if u["state"] in ("style", "unsure"):
            assert set(u["probs"]) == set(labels)
            assert abs(sum(u["probs"].values()) - 1) < 1e-3
            assert abs(sum(u["window_probs"].values()) - 1) < 1e-3
            assert u["recommendations"], "a decided update must recommend songs"
            for r in u["recommendations"]:
                assert set(r) == REC_KEYS and r["why"]
            assert u["view"] in ("full", "upper")
        elif u["state"] == "still":  # nothing classified, songs ranked by tempo only
            assert u["probs"] is None and u["window_probs"] is None and u["movement_bpm"] is None
            assert u["recommendations"] and all("tempo only" in r["why"] for r in u["recommendations"])
            assert u["view"] in ("full", "upper") and u["window_end"] is not None
        else:
            assert u["probs"] is None and u["recommendations"] == []
        if u["state"] == "style":
            assert u["style"] in labels and 0 < u["confidence"] <= 1
        else:
            assert u["style"] is None
    return updates


# ------------------------------------------------------------------ smoothing


def test_one_euro_removes_jitter_at_rest_and_follows_motion():
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    t = np.arange(300) / 30
    still = 0.5 + 0.003 * rng.standard_normal(300)
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(still, t)])
    assert np.std(out[30:]) < 0.4 * np.std(still[30:])
    f.reset()
    ramp = 0.8 * t  # a fast, steady move: the filter must not lag far behind
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(ramp, t)])
    assert np.max(np.abs(out[60:] - ramp[60:])) < 0.05
    f.reset()
    vals = f(np.array([1.0, np.nan]), 0.0), f(np.array([2.0, 3.0]), 1 / 30)
    assert np.isfinite(vals[1]).all() and vals[1][1] == 3.0  # a landmark that appears restarts


def test_style_smoother_does_not_flicker_and_follows_a_real_change():
    labels = ["a", "b", "c"]
    s = StyleSmoother(labels, alpha=0.5, margin=0.1, hold=2)
    pa, pb = np.array([0.6, 0.35, 0.05]), np.array([0.35, 0.6, 0.05])
    shown = [s.update(p, False)[1] for p in [pa, pb, pa, pb, pa, pb]]
    assert set(shown) == {"a"}, shown  # alternating windows never switch the shown style
    shown = [s.update(np.array([0.05, 0.9, 0.05]), False)[1] for _ in range(4)]
    assert shown[-1] == "b" and shown[0] == "a"  # a sustained change wins after the hold
    shown = [s.update(np.array([0.05, 0.9, 0.05]), True)[1] for _ in range(4)]
    assert shown[-1] is None  # sustained unsure windows turn into "unsure"
    probs, _ = s.update(pa, False)
    assert abs(probs.sum() - 1) < 1e-9


# ------------------------------------------------------------------ the runtime


@pytest.fixture(scope="module")
def model():
    m = StyleModel(default_model_path())
    yield m
    m.close()


def _frames(landmarks: np.ndarray, fps: float, size=(640, 480), mask=None):
    for i, row in enumerate(landmarks):
        found = mask is None or mask[i]
        yield Frame(i, i / fps, None, size, 0.0, PoseResult(row.copy() if found else None))


@pytest.fixture(scope="module")
def macarena(data_root):
    return np.load(data_root / "videos" / "macarena_mediapipe33.npy")


def test_no_dancer_is_never_classified(model):
    rt = Runtime(model, load_default_catalog())
    updates = [u for f in _frames(np.full((300, 33, 4), np.nan, np.float32), 30, mask=np.zeros(300, bool))
               if (u := rt.process(f))]
    assert updates and {u.state for u in updates} == {"no_dancer"}
    assert all(u.probs is None and not u.recommendations for u in updates)
    assert rt.stats.per_update["classify"].count == 0


def test_short_gaps_are_bridged_and_long_gaps_reset(model, macarena):
    lm = np.tile(macarena[:240], (2, 1, 1))  # 16 s at 30 fps
    short = np.ones(len(lm), bool)
    short[200:209] = False  # 0.3 s without a pose
    rt = Runtime(model, load_default_catalog())
    ups = [u for f in _frames(lm, 30, mask=short) if (u := rt.process(f))]
    assert rt.stats.resets == 0
    assert [u.state for u in ups if u.t > 8].count("no_dancer") == 0

    long_gap = np.ones(len(lm), bool)
    long_gap[200:320] = False  # 4 s without a pose
    rt = Runtime(model, load_default_catalog())
    ups = [u for f in _frames(lm, 30, mask=long_gap) if (u := rt.process(f))]
    assert rt.stats.resets == 1
    states = {round(u.t, 1): u.state for u in ups}
    assert states[10.0] == "no_dancer"  # inside the gap: nothing classified
    # the window must be half full again (2.5 s, plus the 0.5 s lag) before a new decision
    refill = RuntimeConfig().min_valid * model.spec.window_seconds + model.spec.latency_seconds
    after = [u.state for u in ups if 10.7 < u.t < 10.7 + refill - 0.5]
    assert after and set(after) == {"warming_up"}
    later = {u.state for u in ups if u.t > 10.7 + refill + 0.6}
    assert later and later <= {"style", "unsure"}


def test_upper_body_views_are_classified_and_reported(model, macarena):
    lm = macarena.copy()
    lm[:, LEGS, 3] = 0.0  # legs out of frame
    rt = Runtime(model, load_default_catalog())
    ups = [u for f in _frames(lm, 30) if (u := rt.process(f))]
    decided = [u for u in ups if u.state in ("style", "unsure")]
    assert decided and {u.view for u in decided} == {"upper"}


def test_frame_rate_does_not_change_the_decision(model, data_root):
    """The same dance at 30 fps and decimated to 10 fps gives nearly the same probabilities."""
    lm = np.load(data_root / "videos" / "gangnam_style_mediapipe33.npy")
    out = []
    for step in (1, 3):
        rt = Runtime(model, load_default_catalog(), config=RuntimeConfig(hop_seconds=1.0))
        ups = [u for f in _frames(lm[::step], 30 / step, size=(320, 240)) if (u := rt.process(f))]
        out.append({round(u.t): u.window_probs for u in ups if u.window_probs})
    common = sorted(set(out[0]) & set(out[1]))
    assert len(common) >= 3
    diffs = [max(abs(out[0][t][k] - out[1][t][k]) for k in out[0][t]) for t in common]
    assert np.median(diffs) < 0.15, diffs


def _frozen(row: np.ndarray, seconds: float, fps: float, sigma: float = 0.0, seed: int = 0) -> np.ndarray:
    """One landmark row repeated (a frozen feed), with Gaussian noise of ``sigma`` image units."""
    rep = np.repeat(row[None], int(seconds * fps), 0).astype(np.float32)
    rep[..., :2] += sigma * np.random.default_rng(seed).standard_normal(rep[..., :2].shape)
    return rep


def _middle_pose(lm: np.ndarray) -> np.ndarray:
    good = np.flatnonzero(np.isfinite(lm[:, :, :2]).all(axis=(1, 2)))
    return lm[good[len(good) // 2]]


@pytest.mark.parametrize("clip", ["videos/macarena_mediapipe33.npy",
                                  "realvideo/bachata/bolero__basic_completo_mediapipe33.npy"])
def test_a_frozen_pose_is_still_never_a_style(model, data_root, clip):
    """A repeated frame, with or without pixel noise, is "still": no style, songs by tempo.

    These two frames are ones the model called waltz in every window (at 0.99) before the
    state existed; the control run without it checks that this is still so.
    """
    from edge.recommend.catalog import Catalog
    from edge.sources.frames import PoseFileSource

    path = data_root / clip
    if not path.is_file():
        pytest.skip(f"{path} not found")
    src = PoseFileSource(path)
    row = _middle_pose(src.arr)
    off = RuntimeConfig(still_speed=0.0, min_extent=0.0)
    rt = Runtime(model, Catalog(songs=()), config=off)
    ups = [u for f in _frames(_frozen(row, 12, src.fps), src.fps, src.size) if (u := rt.process(f))]
    assert {u.style for u in ups if u.state == "style"} == {"waltz"}, "the control no longer shows the bug"
    for sigma in (0.0, 0.002):  # 0.002: about 1.3 px of jitter at 640x480
        rt = Runtime(model, load_default_catalog())
        ups = [u for f in _frames(_frozen(row, 20, src.fps, sigma), src.fps, src.size) if (u := rt.process(f))]
        states = [u.state for u in ups]
        assert "style" not in states and "unsure" not in states, (sigma, states)
        assert states.count("still") >= len(states) - 8, states  # after the warm-up: still throughout
        assert all(u.motion < RuntimeConfig().still_speed for u in ups if u.state == "still")
        assert rt.stats.per_update["classify"].count == 0  # the model is not even asked
        check_updates([u.to_json() for u in ups], model.labels)


def test_a_skeleton_collapsed_to_a_point_is_still(model):
    """All 33 landmarks at one point plus pixel noise: the torso normalisation would turn
    the noise into fast motion, so the body's extent decides."""
    lm = np.zeros((33, 4), np.float32)
    lm[:, :2], lm[:, 3] = 0.5, 1.0
    for sigma in (0.0, 1e-3):
        rt = Runtime(model, load_default_catalog())
        ups = [u for f in _frames(_frozen(lm, 10, 30, sigma), 30) if (u := rt.process(f))]
        decided = [u for u in ups if u.state not in ("warming_up", "no_dancer")]
        assert decided and {u.state for u in decided} == {"still"}
        if sigma:
            assert all(u.motion > 1.0 and u.extent < RuntimeConfig().min_extent for u in decided)


def test_a_real_dancer_gets_styles_and_a_pause_is_still(model, data_root):
    """Ana's salsa (a real video's landmarks) shows salsa, never "still"; frozen on her last
    pose for 10 s it turns "still", keeps no style, and ranks songs by the tempo she had."""
    from edge.runtime.session import format_update
    from edge.sources.frames import PoseFileSource

    path = data_root / "realvideo" / "salsa" / "ana_salsa_overlay_mediapipe33.npy"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    src = PoseFileSource(path)
    dance = src.arr
    lm = np.concatenate([dance, _frozen(_middle_pose(dance[-30:]), 10, src.fps, 0.001)])
    rt = Runtime(model, load_default_catalog())
    ups = [u for f in _frames(lm, src.fps, src.size) if (u := rt.process(f))]
    end = len(dance) / src.fps
    dancing = [u for u in ups if u.t <= end and u.state not in ("warming_up", "no_dancer")]
    assert dancing and "still" not in {u.state for u in dancing}
    assert [u.style for u in dancing].count("salsa") >= 0.8 * len(dancing)
    assert all(u.motion > 1.5 * RuntimeConfig().still_speed for u in dancing)
    paused = [u for u in ups if u.t > end + model.spec.window_seconds + model.spec.latency_seconds]
    assert paused and {u.state for u in paused} == {"still"}
    assert all(u.style is None and u.recommendations for u in paused)
    assert any("steps/min" in r.why for r in paused[-1].recommendations)  # her last tempo
    check_updates([u.to_json() for u in ups], model.labels)
    line = format_update(paused[-1].to_json())
    assert "still (no movement)" in line and "steps/min" not in line.split("->")[0]
    from edge.runtime.overlay import _STATE_TEXT, blank_frame, draw

    assert set(_STATE_TEXT) == set(STATES) - {"style"}
    assert draw(blank_frame(src.size), None, paused[-1].to_json(), 30.0).shape[2] == 3


def test_run_statistics_stay_bounded(model, macarena):
    """Latency is kept as streaming histograms: the summary has the same keys and shape,
    and nothing in the run statistics is a list that grows with the frames."""
    from edge.runtime.stats import StreamingStats

    rt = Runtime(model, load_default_catalog())
    for f in _frames(np.tile(macarena, (2, 1, 1)), 30):
        rt.process(f)
    assert not any(isinstance(v, (list, tuple)) for v in vars(rt.stats).values())
    assert all(isinstance(v, StreamingStats) for d in (rt.stats.per_frame, rt.stats.per_update) for v in d.values())
    assert all(len(v) <= 2 for v in rt._since_update.values())
    s = rt.summary("test")
    lat = s["latency_ms"]
    assert set(lat) == {"capture", "pose", "features", "classify", "recommend", "frame_total"}
    for v in lat.values():
        assert set(v) == {"mean", "p50", "p90", "p99", "n"} and v["p50"] <= v["p90"] <= v["p99"]
    assert lat["frame_total"]["n"] == s["frames"] == 2 * len(macarena) and s["pose_runs"] == s["frames"]
    assert lat["features"]["n"] == s["updates"] == sum(s["states"].values())
    assert lat["capture"]["p99"] == 0.0  # recorded landmarks: no capture time, exactly


def test_a_paper_clip_model_is_refused(tmp_path):
    from converters.tflite import embed_card
    from edge.classify.metadata import read_card
    from edge.runtime import ModelError

    card = read_card(default_model_path())
    card["preprocessing"] = "paper-clip"
    path = tmp_path / "clip.tflite"
    path.write_bytes(embed_card(default_model_path().read_bytes(), card))
    with pytest.raises(ModelError, match="classifies whole clips"):
        StyleModel(path)


# ------------------------------------------------------------------ the command, on recorded landmarks


def _run(args: list[str]):
    from edge.cli import main

    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


@pytest.mark.parametrize("name", ["gangnam_style", "macarena", "ballet", "belly_dancing"])
def test_run_poses_json_lines(data_root, name):
    res = _run(["--poses", str(data_root / "videos" / f"{name}_mediapipe33.npy"), "--json", "-q",
                "--no-dataset-songs"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
    assert lines[-1]["type"] == "summary"
    updates = check_updates(lines[:-1], lines[-1]["labels"])
    s = lines[-1]
    assert s["frames"] == len(np.load(data_root / "videos" / f"{name}_mediapipe33.npy"))
    assert s["updates"] == len(updates) and sum(s["states"].values()) == len(updates)
    if name != "belly_dancing":  # too few frames with a pose there to fill a window
        assert any(u["state"] in ("style", "unsure") for u in updates)


def test_run_poses_without_a_video_needs_fps_and_size(tmp_path, data_root):
    src = np.load(data_root / "videos" / "macarena_mediapipe33.npy")
    path = tmp_path / "dance.npy"
    np.save(path, src[:200])
    res = _run(["--poses", str(path), "-q", "--no-dataset-songs"])
    assert res.exit_code != 0 and "pass --fps and --size WxH" in res.output
    res = _run(["--poses", str(path), "--fps", "30", "--size", "640x480", "--json", "-q", "--no-dataset-songs"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.splitlines()[-1])["frames"] == 200


def test_save_from_poses_writes_a_playable_video(tmp_path, data_root):
    import cv2

    out = tmp_path / "annotated.mp4"
    res = _run(["--poses", str(data_root / "videos" / "macarena_mediapipe33.npy"), "--save", str(out),
                "--max-frames", "90", "-q", "--no-dataset-songs"])
    assert res.exit_code == 0, res.output
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 90
    assert not list(tmp_path.glob(".annotated*")), "the temporary file must be renamed away"


@pytest.mark.parametrize("clip, style", [("cmu:60_01", "salsa"), ("music2dance:DANCE_C_2", "cha-cha")])
def test_dataset_clips_replayed_through_run_show_their_style(data_root, tmp_path, clip, style):
    """`data export-poses` + `run --poses`: the streaming path agrees with evaluation.

    These clips are in the default model's training set, so this checks the runtime's
    plumbing (projection, resampling from 120/25 fps, smoothing, hysteresis), not how well
    the model generalises (the cross-validation report measures that).
    """
    import re

    from edge.cli import main

    out = tmp_path / "clip.npy"
    res = CliRunner().invoke(main, ["data", "export-poses", clip, "--out", str(out), "--data", str(data_root)])
    assert res.exit_code == 0, res.output
    fps, w, h = re.search(r"--fps (\S+) --size (\d+)x(\d+)", res.output).groups()
    arr = np.load(out)
    assert arr.shape[1:] == (33, 4) and np.nanmax(arr[..., :2]) < 1.5
    res = _run(["--poses", str(out), "--fps", fps, "--size", f"{w}x{h}", "--json", "-q", "--max-frames",
                str(int(float(fps) * 20))])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.splitlines()[-1])
    shares = summary["style_shares"]
    # of the updates that show a style, the right one dominates (cha-cha: 0.59 of decided
    # updates against rumba's 0.15, measured with the shipped model); the rest are "unsure":
    # its threshold is calibrated on real camera dancers, and clean projected mocap is not
    # what a camera gives
    others = [v for k, v in shares.items() if k != style]
    assert summary["most_shown_style"] == style and shares[style] >= 3 * max(others, default=0.0), shares
    assert shares[style] > 0.3, shares
    final = summary["final"]
    assert final["state"] in ("style", "unsure") and final["recommendations"]
