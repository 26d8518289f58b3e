"""End to end: train small models on the real data, evaluate them from the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow")

from training.cli import evaluate, train  # noqa: E402

pytestmark = pytest.mark.slow


def _run(cmd, args):
    result = CliRunner().invoke(cmd, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def edge_model(data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "edge.keras"
    result = _run(train, ["--arch", "edge", "--data", data_root, "--out", out, "--epochs", "3",
                          "--per-class", "40", "--folds", "3"])
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_model_and_card(edge_model):
    card = json.loads(edge_model.with_name("edge.card.json").read_text())
    assert card["format"] == "edgerec-model-card"
    assert card["arch"] == "edge"
    assert {"waltz", "salsa", "cha-cha"} <= set(card["labels"])
    assert "ballet" in card["data"]["out_of_set_labels"]
    assert card["feature_spec"]["version"] >= 1 and card["feature_spec"]["rate"] == 10.0
    assert card["input"]["shape"] == [1, 50, card["feature_spec"]["num_channels"]]
    assert len(card["normalisation"]["mean"]) == card["feature_spec"]["num_channels"]
    assert card["calibration"]["temperature"] > 0
    assert len(card["data"]["fingerprint_sha256"]) == 64
    assert set(card["split"]["train_clips"]).isdisjoint(card["split"]["test_clips"])
    assert card["params"] <= 300_000
    held = card["metrics"]["held_out"]
    assert 0.0 <= held["window"]["macro_f1"] <= 1.0
    assert "predictions" not in held
    assert not list(edge_model.parent.glob(".*tmp*")), "temporary files left behind"


def test_evaluate_json_on_the_whole_data(edge_model, data_root):
    result = _run(evaluate, [edge_model, data_root, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for level in ("window", "clip_majority", "clip_mean"):
        rep = out[level]
        assert {"accuracy", "macro_f1", "weighted_f1", "per_class", "confusion"} <= set(rep)
        k = len(out["labels"])
        assert np.array(rep["confusion"]).shape == (k, k)
        assert all(0.0 <= v["recall"] <= 1.0 for v in rep["per_class"].values())
    # every in-set clip with a window is scored (an exact count would break when data is added)
    in_set = [c for c in out["per_clip"] if c.get("in_set") and c["windows"] > 0]
    assert out["clips_scored"] == len(in_set) >= 70
    assert out["unsure"]["out_of_set_clips"] >= 3  # the videos with enough pose for a window


def test_evaluate_on_another_folder_with_the_same_layout(edge_model, data_root, tmp_path):
    # a user's folder: one AIST++ genre and one video, nothing else
    root = tmp_path / "mine"
    (root / "aistpp" / "krump").mkdir(parents=True)
    (root / "videos").mkdir()
    shutil.copy(data_root / "aistpp" / "kps_scaler.json", root / "aistpp")
    for f in (data_root / "aistpp" / "krump").glob("*.npy"):
        os.symlink(f, root / "aistpp" / "krump" / f.name)
    for f in (data_root / "videos").glob("gangnam_style*"):
        os.symlink(f, root / "videos" / f.name)
    result = _run(evaluate, [edge_model, root, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["clips"] == 3 and out["clips_scored"] == 2
    assert {c["label"] for c in out["per_clip"]} == {"krump", "gangnam_style"}


def test_baseline_and_paper_train_and_evaluate(data_root, tmp_path):
    for arch, name in (("baseline", "base.json"), ("paper", "paper.keras")):
        out = tmp_path / name
        result = _run(train, ["--arch", arch, "--data", data_root, "--out", out, "--epochs", "2",
                              "--per-class", "30", "--folds", "3"])
        assert result.exit_code == 0, result.output
        card = json.loads(out.with_name(out.stem + ".card.json").read_text())
        assert card["metrics"]["held_out"]["clip_mean"]["n"] > 0
    result = _run(evaluate, [tmp_path / "paper.keras", data_root / "aistpp", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["clips"] == 6


def _file(path: Path, content: bytes | None) -> Path:
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name, content, message", [
    ("missing.keras", None, "not found"),
    ("model.h5", b"x", "unknown model format"),
    ("nocard.keras", b"PK", "no model card"),
])
def test_evaluate_bad_model_files_fail_in_one_line(tmp_path, data_root, name, content, message):
    result = CliRunner().invoke(evaluate, [str(_file(tmp_path / name, content)), str(data_root)])
    assert result.exit_code != 0
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_train_refuses_a_wrong_suffix(data_root, tmp_path):
    result = CliRunner().invoke(train, ["--arch", "edge", "--data", str(data_root), "--out", str(tmp_path / "m.h5")])
    assert result.exit_code != 0 and ".keras" in result.output
    assert not list(tmp_path.iterdir())
