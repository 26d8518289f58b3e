"""The fused (pose + audio) experiment: the head's pieces on tiny synthetic data, and that
``python -m training.fused --quick`` writes strict JSON in the report schema."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import fused

REPO = Path(__file__).resolve().parents[1]


def _synthetic(n: int = 120, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 2.0
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scalars = np.stack([(y == 0).astype(float), rng.normal(0, 0.3, n), rng.uniform(0, 1, n)], axis=1)
    mel = rng.normal(-40, 5, (n, 128))
    return p, scalars, mel, y


def test_head_fits_and_predicts_distributions():
    p, s, m, y = _synthetic()
    for audio in (False, True):
        head = fused.FusionHead(audio).fit(p, s, m, y, num_classes=4)  # class 3 absent from training
        q = head.predict_proba(p, s, m)
        assert q.shape == (len(y), 4)
        assert np.allclose(q.sum(axis=1), 1.0)
        assert (q.argmax(axis=1) != 3).all()
        assert (q.argmax(axis=1) == y).mean() > 0.6
        json.dumps(head.to_dict(), allow_nan=False)  # weights are plain JSON


def test_pose_only_head_ignores_audio_and_fused_head_uses_it():
    p, s, m, y = _synthetic()
    pose = fused.FusionHead(False).fit(p, s, m, y, 3)
    both = fused.FusionHead(True).fit(p, s, m, y, 3)
    s2 = s.copy()
    s2[:, 0] = 1.0 - s2[:, 0]  # flip the has-music flag, which marks class 0 here
    assert np.allclose(pose.predict_proba(p, s, m), pose.predict_proba(p, s2, m))
    assert not np.allclose(both.predict_proba(p, s, m), both.predict_proba(p, s2, m))


def test_bootstrap_rate_is_seeded_and_brackets_the_rate():
    hits = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 0], float)
    clips = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    a = fused.bootstrap_rate(hits, clips, 500, seed=3)
    assert a == fused.bootstrap_rate(hits, clips, 500, seed=3)
    assert a[0] <= hits.mean() <= a[1]
    assert fused.bootstrap_rate(np.zeros(0), np.zeros(0), 100, 0) is None
    assert fused.bootstrap_rate(np.array([1.0, 0.0, 1.0]), np.zeros(3), 100, 0) is not None  # one clip: windows


def test_audio_track_lookup_and_wrap():
    tr = fused.AudioTrack(10.0, np.arange(5, dtype=float)[:, None].repeat(3, 1), np.zeros((5, 128)))
    s, _ = tr.at(np.array([9.0, 10.5, 12.0, 30.0]))
    assert s[:, 0].tolist() == [0, 0, 2, 4]  # clamped at both ends
    s, _ = tr.at(np.array([16.2]), wrap=True)
    assert s[0, 0] == 1  # index 6 wraps to 1


def test_silence_and_a_click_track():
    sil = fused.silence_track()
    assert sil.scalars[0, 0] == 0.0 and sil.scalars[0, 2] == 0.0
    sr = 22050
    y = np.zeros(sr * 12, np.float32)
    for t in np.arange(0.0, 12.0, 0.5):  # 120 BPM clicks
        i = int(t * sr)
        y[i:i + 200] = np.hanning(200) * 0.8
    tr = fused.analyse_samples(y, sr)
    last = tr.scalars[-1]
    assert last[0] == 1.0
    bpm = 2 ** (last[1] + 7.0)
    assert any(abs(bpm - b) < 6 for b in (60, 120, 240)), bpm
    assert tr.mel.shape[1] == 128


def _strict(text: str):
    def bad(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=bad)


@pytest.mark.slow
def test_quick_run_writes_schema(data_root, tmp_path):
    env = {**os.environ, "EDGEREC_DATA": str(data_root)}
    out = tmp_path / "audio"
    r = subprocess.run([sys.executable, "-m", "training.fused", "--quick", "--out", str(out)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = _strict((out / "fused.json").read_text())
    assert set(rep) == {"kept", "reason", "machine", "command", "rows", "notes"}
    assert isinstance(rep["kept"], bool) and isinstance(rep["reason"], str) and rep["reason"]
    assert isinstance(rep["machine"], str) and "--quick" in rep["command"]
    assert all(isinstance(n, str) for n in rep["notes"])
    assert rep["rows"]
    for row in rep["rows"]:
        assert set(row) == {"variant", "condition", "clips", "metric", "value", "ci"}
        assert row["variant"] in ("pose-only", "fused")
        assert isinstance(row["clips"], int) and isinstance(row["value"], float) and math.isfinite(row["value"])
        assert row["ci"] is None or (len(row["ci"]) == 2 and row["ci"][0] <= row["ci"][1])
    assert {r["variant"] for r in rep["rows"]} == {"pose-only", "fused"}
    assert (out / "fused.md").read_text().startswith("# Fused edge variant")
