"""The default model shipped in the package: self-describing, current, and runnable without TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge.core.assets import default_model_path
from edge.features import FeatureSpec
from edge.classify.metadata import read_card


def test_default_model_is_small_and_describes_itself():
    path = default_model_path()
    assert path.stat().st_size < 1_000_000
    card = read_card(path)
    assert card["arch"] == "edge"
    assert card["export"]["format"] == "tflite-float16" if "export" in card else card["format"] == "tflite-float16"
    assert sorted(card["labels"]) == ["cha-cha", "house", "krump", "middlehiphop", "rumba", "salsa", "waltz"]
    # trained with the features this code computes: a feature change without a retrained
    # default model fails here (rebuild it with scripts/make_default_model.sh)
    assert card["feature_spec"] == FeatureSpec().to_dict()
    assert card["split"]["test_fold"] is None and not card["split"]["test_clips"]
    assert card["calibration"]["temperature"] > 0
    assert len(card["data"]["fingerprint_sha256"]) == 64
    # real camera data in training, "unsure" calibrated on real dancers it never saw
    assert {"openpose", "realvideo"} <= set(card["data"]["sources"])
    real = card["calibration"]["real_video"]
    assert 0.5 <= real["distance_threshold_scale"] <= 3.0 and len(real["dancer_ratios"]) >= 3
    assert card["calibration"]["distance_threshold"] == pytest.approx(
        real["validation_threshold"] * real["distance_threshold_scale"], rel=1e-5)
    assert any(c.startswith("realvideo:bachata") for c in card["data"]["outlier_exposure_clips"])


def test_default_model_runs_without_tensorflow(data_root):
    code = f"""
import sys
import numpy as np
from edge.core.assets import default_model_path
from edge.classify.backends import load_backend
from edge.features import FeatureSpec, window_features, window_ends, track_from_image_sequence
from training.datasets import discover, load
ref = [r for r in discover({str(data_root)!r}, ("aistpp",)) if "gKR" in r.path.name][0]
seq = load(ref)
spec = FeatureSpec()
track = track_from_image_sequence(seq)
x = np.stack([window_features(track, float(t), spec)[0] for t in window_ends(seq.duration, spec, 2.0)])
with load_backend(default_model_path()) as model:
    probs = np.concatenate([model(x[i:i + 1])[0] for i in range(len(x))])
labels = model.card["labels"] if hasattr(model, "card") else None
assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
print("TOP", np.bincount(probs.argmax(axis=1)).argmax())
assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules), "TensorFlow loaded"
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    card = read_card(default_model_path())
    top = int(out.stdout.split("TOP")[1].split()[0])
    # a clip it was trained on: a sanity check that labels and outputs line up, not a score
    assert card["labels"][top] == "krump"
