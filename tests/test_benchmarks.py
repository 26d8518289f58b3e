"""`edgerec bench`: every command on tiny models and short inputs; schemas and plots, no timings asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.report import compare, pareto

MODEL_KEYS = {"file", "variant", "size_bytes", "arch", "format", "backend", "threads", "runs", "warmup", "init_ms",
              "first_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "min_ms", "rss_before_mb", "peak_rss_mb",
              "cores_used", "accuracy"}
ENV_KEYS = {"cpu", "machine", "platform", "python", "cores_total", "cores_available", "cores_pinned",
            "device_profile", "libraries", "git_commit"}
LABELS = ("house", "krump", "middlehiphop")


def invoke(*args: str):
    from edge.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_pareto_front():
    pts = [(1.0, 0.5, "a"), (2.0, 0.9, "b"), (3.0, 0.8, "c"), (0.5, 0.4, "d"), (2.0, 0.9, "e")]
    assert sorted(pareto(pts)) == ["a", "b", "d", "e"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from converters.convert import convert_model
    from converters.inputs import array_inputs
    from converters.testing import tiny_model

    folder = tmp_path_factory.mktemp("bench_models")
    tiny = tiny_model(folder, "edge", epochs=2, labels=LABELS, name="edge")
    for target, quant, suffix in (("tflite", "float32", ".float32.tflite"), ("onnx", "none", ".none.onnx")):
        convert_model(tiny.path, target, quant, out=folder / f"edge{suffix}", inputs=array_inputs(tiny.test_x[:32]))
    return folder


@pytest.fixture(scope="module")
def tiny_data(data_root, tmp_path_factory):
    """A small data folder: the AIST++ clips of the tiny model's three labels (symlinked)."""
    root = tmp_path_factory.mktemp("bench_data")
    (root / "aistpp").mkdir()
    for f in (data_root / "aistpp").glob("*.json"):  # the keypoint scaler the loader needs
        (root / "aistpp" / f.name).symlink_to(f)
    for label in LABELS:
        (root / "aistpp" / label).mkdir(parents=True)
        for f in sorted((data_root / "aistpp" / label).iterdir()):
            (root / "aistpp" / label / f.name).symlink_to(f)
    return root


def test_bench_models_json_markdown_and_plot(tiny_models, tiny_data, tmp_path):
    out = tmp_path / "reports"
    res = invoke("bench", "models", str(tiny_models), "--runs", "30", "--warmup", "3", "--threads", "1,2",
                 "--data", str(tiny_data), "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "models.json").read_text())
    models = doc["models"]
    assert models["schema"] == 1 and models["kind"] == "models" and set(models["environment"]) == ENV_KEYS
    rows = models["results"]
    assert {(Path(r["file"]).name, r["threads"]) for r in rows} == {
        (n, t) for n in ("edge.keras", "edge.float32.tflite", "edge.none.onnx") for t in (1, 2)}
    for r in rows:
        assert set(r) == MODEL_KEYS, set(r) ^ MODEL_KEYS
        assert r["runs"] == 30 and r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["peak_rss_mb"] > 0
        assert r["accuracy"]["clip_macro_f1"] is not None and 0 <= r["accuracy"]["window_accuracy"] <= 1
        assert "every clip" in r["accuracy"]["scored_on"]  # the tiny card has no held-out split
    assert {r["backend"] for r in rows} == {"tensorflow", "litert", "onnxruntime"}
    png = (out / "models.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    md = (out / "models.md").read_text()
    assert "| edge.float32.tflite | tflite-float32 | litert | 1 |" in md and "models.png" in md
    assert "Which variant to deploy" in md
    (out / "models.png").unlink()
    res = invoke("bench", "render", str(out / "models.json"))
    assert res.exit_code == 0 and (out / "models.png").exists(), res.output


def test_bench_models_pins_cores_and_reports_bad_files(tiny_models, tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"not a model")
    out = tmp_path / "r"
    res = invoke("bench", "models", str(tiny_models / "edge.float32.tflite"), str(bad), "--runs", "5",
                 "--warmup", "1", "--cores", "1", "--no-accuracy", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    models = json.loads((out / "models.json").read_text())["models"]
    assert models["environment"]["cores_pinned"] == 1 and "approximation" in models["environment"]["device_profile"]
    good, broken = sorted(models["results"], key=lambda r: "broken" in r["file"])
    assert good["threads"] == 1 and good["cores_used"] == 1
    assert "error" in broken and "broken.tflite" in broken["error"]
    assert not (out / "models.png").exists()  # no accuracy, nothing to plot
    assert "error:" in (out / "models.md").read_text()
    bad_cores = CliRunner().invoke(__import__("edge.cli", fromlist=["main"]).main,
                                   ["bench", "models", str(bad), "--cores", "99", "--no-accuracy"])
    assert bad_cores.exit_code != 0 and "cores" in bad_cores.output


def test_bench_pipeline_and_compare(data_root, tmp_path):
    from edge.pose import POSE_STAGES

    if not POSE_STAGES["native"].available():
        pytest.skip("BlazePose models are not cached; run `edgerec pose fetch`")
    video = data_root / "videos" / "gangnam_style.mp4"
    for name in ("a", "b"):
        res = invoke("bench", "pipeline", "--video", str(video), "--max-frames", "40", "--threads", "1",
                     "--pose-every", "1,2", "--out", str(tmp_path), "--name", name, "-q")
        assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "a.json").read_text())
    rows = doc["pipeline"]["results"]
    assert [(r["threads"], r["pose_every"]) for r in rows] == [(1, 1), (1, 2)]
    for r in rows:
        assert r["frames"] == 40 and r["fps"] > 0 and r["peak_rss_mb"] > 0
        assert {"decode", "pose", "features", "frame_total"} <= set(r["stages_ms"])
        assert 0 < r["pose_share"] <= 1
    assert rows[1]["pose_runs"] == 20  # pose on every second frame
    assert any(t["target"].startswith("end to end") for t in doc["targets"])
    assert "| gangnam_style.mp4 | native | 1 | 2 | 40 |" in (tmp_path / "a.md").read_text()
    res = invoke("bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert res.exit_code == 0, res.output
    assert "B/A FPS" in res.output and res.output.count("gangnam_style.mp4") == 2


def test_compare_needs_shared_variants(tmp_path):
    a = {"kind": "models", "results": [{"variant": "x", "threads": 1, "p50_ms": 1.0, "mean_ms": 1.0, "peak_rss_mb": 10}]}
    b = {"kind": "models", "results": [{"variant": "x", "threads": 1, "p50_ms": 0.5, "mean_ms": 0.5, "peak_rss_mb": 5}]}
    lines = compare(a, b)
    assert "0.50" in lines[1]
    with pytest.raises(ValueError, match="share no variant"):
        compare(a, {"kind": "pipeline", "results": []})
    (tmp_path / "bad.json").write_text("[1, 2]")
    res = CliRunner().invoke(__import__("edge.cli", fromlist=["main"]).main,
                             ["bench", "compare", str(tmp_path / "bad.json"), str(tmp_path / "bad.json")])
    assert res.exit_code != 0 and "not an edgerec benchmark file" in res.output
