"""Edge backends: one interface over LiteRT and ONNX Runtime, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.classify.backends.base import TensorSpec, dequantise, quantise


def test_quantise_dequantise_saturate_and_round_trip():
    spec = TensorSpec("x", 0, (1, 4), "int8", scale=0.1, zero_point=-3)
    x = np.array([[-100.0, -1.234, 0.0, 100.0]], np.float32)
    q = quantise(x, spec)
    assert q.dtype == np.int8 and q.tolist() == [[-128, -15, -3, 127]]
    inside = np.linspace(-12.0, 12.0, 101, dtype=np.float32)
    assert np.abs(dequantise(quantise(inside, spec), spec) - inside).max() <= 0.05 + 1e-6


def test_litert_falls_back_to_tflite_runtime(monkeypatch):
    import importlib
    import sys
    import types

    from edge.core.optional import MissingDependency
    from edge.classify.backends.litert import interpreter_module

    real = pytest.importorskip("ai_edge_litert.interpreter")
    assert interpreter_module() is real
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", real)
    assert interpreter_module() is real
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(MissingDependency, match=r"pip install 'edgerec\[edge\]'.*tflite-runtime works too"):
        interpreter_module()
    assert importlib.import_module("edge.classify.backends.litert")


tf = pytest.importorskip("tensorflow")

from converters.convert import convert_model  # noqa: E402
from converters.inputs import array_inputs  # noqa: E402
from converters.testing import tiny_model  # noqa: E402
from edge.classify.backends import load_backend  # noqa: E402
from edge.classify.metadata import read_card  # noqa: E402
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    tiny = tiny_model(folder, "edge", epochs=3)
    paths = {".keras": tiny.path}
    for target, suffix in (("tflite", ".tflite"), ("onnx", ".onnx")):
        out = folder / f"tiny{suffix}"
        convert_model(tiny.path, target, out=out, inputs=array_inputs(tiny.test_x[:32]))
        paths[suffix] = out
    return tiny, paths


@pytest.mark.parametrize("suffix, cls, batch", [(".tflite", "LiteRTBackend", 1), (".onnx", "OnnxRuntimeBackend", None)])
def test_one_interface_for_both_runtimes(models, suffix, cls, batch):
    tiny, paths = models
    with load_backend(paths[suffix]) as backend:
        assert type(backend).__name__ == cls
        assert backend.labels == list(tiny.labels) and backend.input_shape == (50, 101) and backend.batch == batch
        probs, emb = backend(tiny.test_x[:5])
        assert probs.shape == (5, 3) and emb.shape == (5, 8)
        assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        one, _ = backend(tiny.test_x[0])  # a single window
        np.testing.assert_allclose(one[0], probs[0], atol=1e-6)
        empty, _ = backend(np.zeros((0, 50, 101), np.float32))
        assert empty.shape == (0, 3)
        with pytest.raises(ValueError, match=rf"tiny{suffix}: inputs of shape \(40, 101\) given, the model takes \(50, 101\)"):
            backend(np.zeros((2, 40, 101), np.float32))
    assert getattr(backend, "_interp", None) is None and getattr(backend, "_session", None) is None


def test_both_runtimes_agree(models):
    tiny, paths = models
    with load_backend(paths[".tflite"]) as a, load_backend(paths[".onnx"]) as b:
        pa, ea = a(tiny.test_x)
        pb, eb = b(tiny.test_x)
    assert np.abs(pa - pb).max() < 1e-5 and np.abs(ea - eb).max() < 1e-4


def test_threads_and_onnx_runtime_spinning(models):
    tiny, paths = models
    with load_backend(paths[".onnx"], threads=2) as backend:
        options = backend._session.get_session_options()
        assert options.intra_op_num_threads == 2
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        two, _ = backend(tiny.test_x[:8])
    with load_backend(paths[".onnx"], threads=1) as backend:
        with pytest.raises(Exception, match="does not have configuration"):  # left at ORT's default
            backend._session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        one, _ = backend(tiny.test_x[:8])
    np.testing.assert_allclose(one, two, atol=1e-6)
    with load_backend(paths[".tflite"], threads=2) as backend:
        assert backend.threads == 2
        np.testing.assert_allclose(backend(tiny.test_x[:8])[0], one, atol=1e-5)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        load_backend(paths[".tflite"], threads=0)
    with pytest.raises(ValueError, match="execution provider.*NoSuchExecutionProvider.*not available"):
        load_backend(paths[".onnx"], providers=["NoSuchExecutionProvider"])


def test_litert_resets_state_before_every_window(models):
    """A fused TFLite LSTM keeps its state between invocations: each window must start fresh."""
    tiny, paths = models
    backend = load_backend(paths[".tflite"])
    calls = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def reset_all_variables(self):
            calls.append("reset")
            return self.inner.reset_all_variables()

        def invoke(self):
            calls.append("invoke")
            return self.inner.invoke()

        def __getattr__(self, name):
            return getattr(self.inner, name)

    backend._interp = Spy(backend._interp)
    backend(tiny.test_x[:3])
    assert calls == ["reset", "invoke"] * 3


# ------------------------------------------------------------------ bad files


def _bad(path: Path, exc_info, *fragments: str) -> None:
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg


@pytest.mark.parametrize("name, make, fragments", [
    ("half.tflite", lambda p: p[".tflite"].read_bytes()[: p[".tflite"].stat().st_size // 2],
     ["truncated or corrupt TFLite file"]),
    ("half.onnx", lambda p: p[".onnx"].read_bytes()[:4000], ["ONNX Runtime cannot load it", "truncated or corrupt"]),
    ("onnx_inside.tflite", lambda p: p[".onnx"].read_bytes(), ["not a TFLite flatbuffer", "looks like an ONNX file"]),
    ("tflite_inside.onnx", lambda p: p[".tflite"].read_bytes(), ["not an ONNX file", "looks like a TFLite file"]),
    ("keras_inside.tflite", lambda p: p[".keras"].read_bytes(), ["not a TFLite flatbuffer", "Keras (zip)"]),
    ("empty.onnx", lambda p: b"", ["empty file"]),
    ("model.pb", lambda p: b"\x08\x07", ["no edge backend for '.pb'"]),
    ("missing.tflite", None, ["model file not found"]),
])
def test_bad_files_fail_in_one_line_naming_the_file(models, tmp_path, name, make, fragments):
    path = tmp_path / name
    if make is not None:
        path.write_bytes(make(models[1]))
    with pytest.raises(ValueError) as info:
        load_backend(path)
    _bad(path, info, *fragments)


def _with_card(src: Path, dst: Path, change) -> Path:
    """``src`` re-written with its embedded card changed by ``change(card)``."""
    from converters import onnx as onnx_converter
    from converters import tflite as tflite_converter

    card = read_card(src)
    change(card)
    embed = tflite_converter.embed_card if src.suffix == ".tflite" else onnx_converter.embed_card
    dst.write_bytes(embed(src.read_bytes(), card))
    return dst


@pytest.mark.parametrize("suffix, change, fragments", [
    (".tflite", lambda c: c["feature_spec"].update(version=99), ["feature version 99", "computes version 1, 2"]),
    (".onnx", lambda c: c["feature_spec"].update(version=99), ["feature version 99"]),
    (".tflite", lambda c: c["input"].update(shape=[1, 40, 101]),
     ["input shape (50, 101) does not match its card (40, 101)"]),
    (".onnx", lambda c: c["input"].update(shape=[None, 50, 99]), ["does not match its card (50, 99)"]),
    (".tflite", lambda c: c.update(labels=["a", "b", "c", "d", "e"]), ["has 3 outputs but its card lists 5 labels"]),
    (".tflite", lambda c: c["export"].update(format="onnx-float32"),
     ["card says format onnx-float32 (.onnx file), but this is a .tflite file"]),
    (".tflite", lambda c: c["export"].update(input_transform={"kind": "log"}), ["unknown input transform 'log'"]),
])
def test_mismatched_cards_fail_in_one_line(models, tmp_path, suffix, change, fragments):
    path = _with_card(models[1][suffix], tmp_path / f"changed{suffix}", change)
    with pytest.raises(ValueError) as info:
        load_backend(path)
    _bad(path, info, *fragments)


def test_sidecar_card_is_the_documented_fallback(models, tmp_path):
    from converters.model import export_model, load_source
    from converters.tflite import keras_to_tflite
    from training.card import write_card

    tiny, paths = models
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(keras_to_tflite(export_model(load_source(tiny.path), 1).model, "float32"))
    with pytest.raises(ValueError) as info:
        load_backend(bare)
    _bad(bare, info, "no edgerec model card inside it or beside it (bare.card.json)")
    write_card(bare, {k: v for k, v in read_card(paths[".tflite"]).items() if k not in ("format", "export")})
    with load_backend(bare) as backend:
        assert backend.card_source == "sidecar"
        probs, _ = backend(tiny.test_x[:4])
    with load_backend(paths[".tflite"]) as backend:
        assert backend.card_source == "embedded"
        np.testing.assert_allclose(probs, backend(tiny.test_x[:4])[0], atol=1e-6)


# ------------------------------------------------------------------ evaluate accepts converted files


def _dancer(label: str, seconds: float, freq: float, seed: int) -> PoseSequence:
    """A synthetic 2D dancer in MediaPipe's landmark order, swinging arms and legs at ``freq`` Hz."""
    rng = np.random.default_rng(seed)
    fps = 30.0
    t = uniform_times(int(seconds * fps), fps)
    base = {"nose": (640, 200), "left_eye": (630, 190), "right_eye": (650, 190), "left_ear": (620, 200),
            "right_ear": (660, 200), "left_shoulder": (600, 260), "right_shoulder": (680, 260),
            "left_elbow": (580, 330), "right_elbow": (700, 330), "left_wrist": (570, 400),
            "right_wrist": (710, 400), "left_hip": (615, 420), "right_hip": (665, 420),
            "left_knee": (610, 520), "right_knee": (670, 520), "left_ankle": (605, 620),
            "right_ankle": (675, 620)}
    points = np.zeros((len(t), NUM_LANDMARKS, 3), np.float32)
    mask = np.zeros((len(t), NUM_LANDMARKS), bool)
    swing = np.sin(2 * np.pi * freq * t)
    for name, (x, y) in base.items():
        i = LANDMARK[name]
        amp = 60.0 if "wrist" in name else 30.0 if ("elbow" in name or "ankle" in name) else 5.0
        side = -1.0 if name.startswith("left") else 1.0
        points[:, i, 0] = x + side * amp * swing + rng.normal(0, 1.0, len(t))
        points[:, i, 1] = y - amp * 0.5 * np.abs(swing) + rng.normal(0, 1.0, len(t))
        mask[:, i] = True
    return PoseSequence(points, mask, t, fps, "image", label, f"g-{label}-{seed}", "synthetic", f"{label}-{seed}",
                        image_size=(1280, 720))


def _keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        if k in ("per_class", "seconds", "model"):
            out.add(prefix + k)
            continue
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _keys(v, prefix + k + ".")
    return out


def test_evaluate_accepts_tflite_and_onnx_with_the_same_json(models):
    from training.evaluate import evaluate_loaded, load_model, to_json

    tiny, paths = models
    seqs = [_dancer(label, 12.0, 0.5 + k, seed=k) for k, label in enumerate(tiny.labels)] + [_dancer("ballet", 12.0, 3.0, 9)]
    results = {s: json.loads(to_json(evaluate_loaded(load_model(p), seqs))) for s, p in paths.items()}
    keras_result = results[".keras"]
    assert keras_result["windows"] > 0 and keras_result["unsure"] is not None
    for suffix in (".tflite", ".onnx"):
        result = results[suffix]
        assert _keys(result) == _keys(keras_result), suffix
        assert result["model"] == str(paths[suffix]) and result["clips"] == len(seqs)
        # float32 files: the same answers as Keras, window by window
        assert result["predictions"]["pred"] == keras_result["predictions"]["pred"]
        assert result["window"]["confusion"] == keras_result["window"]["confusion"]
