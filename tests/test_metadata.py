"""The model card travels inside converted files and is read on the device without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.features import FEATURE_VERSION

from edge.classify.metadata import CARD_KEY, TFLiteFile, card_json, parse_card, sniff

REPO = Path(__file__).resolve().parents[1]


def test_sniff_and_card_parsing():
    assert sniff(b"\x1c\0\0\0TFL3\0\0") == "tflite"
    assert sniff(b"PK\x03\x04") == "keras"
    assert sniff(b'  {"a": 1}') == "json"
    assert sniff(b"\x08\x07\x12\x07tf2onnx") == "onnx"
    assert sniff(b"\0\0\0\0") is None
    card = parse_card(card_json({"labels": ["a", "b"]}), "x")
    assert card["format"] == "edgerec-model-card" and card["labels"] == ["a", "b"]
    with pytest.raises(ValueError, match="x: model card is not valid JSON"):
        parse_card(b"{nope", "x")
    with pytest.raises(ValueError, match="x: not an edgerec model card"):
        parse_card(b'{"labels": []}', "x")


def test_reader_refuses_what_is_not_a_tflite_file():
    with pytest.raises(ValueError, match="f.tflite: truncated TFLite file"):
        TFLiteFile.parse(b"\x1c\0\0", "f.tflite")
    with pytest.raises(ValueError, match="no TFL3 identifier; it looks like a Keras"):
        TFLiteFile.parse(b"PK\x03\x04" + b"\0" * 20, "f.tflite")
    with pytest.raises(ValueError, match="truncated or corrupt TFLite file"):
        TFLiteFile.parse(b"\xff\xff\0\0TFL3" + b"\0" * 8, "f.tflite")


tf = pytest.importorskip("tensorflow")

from converters import onnx as onnx_converter  # noqa: E402
from converters import tflite as tflite_converter  # noqa: E402
from converters.convert import convert_model  # noqa: E402
from converters.inputs import array_inputs  # noqa: E402
from converters.model import export_model, load_source  # noqa: E402
from converters.testing import tiny_model  # noqa: E402
from edge.classify.metadata import read_card  # noqa: E402
from training.card import file_sha256, write_card  # noqa: E402


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metadata")
    tiny = tiny_model(folder, "edge", epochs=1)
    files = {}
    for target, suffix in (("tflite", ".tflite"), ("onnx", ".onnx")):
        files[suffix] = convert_model(tiny.path, target, out=folder / f"m{suffix}",
                                      inputs=array_inputs(tiny.test_x[:16], tiny.train_x[:16]))
    return tiny, files


READER = """
import json, sys
from edge.classify.metadata import read_card
from edge.classify.backends import load_backend
import numpy as np
out = {}
for path in sys.argv[1:]:
    card = read_card(path)
    with load_backend(path) as backend:
        probs, emb = backend(np.zeros(backend.input_shape, np.float32))
    out[path] = {"card": card, "probs": probs.shape[1]}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               ("tensorflow", "keras", "onnx", "tf2onnx", "training", "converters"))
assert not heavy, heavy
print(json.dumps(out))
"""


def test_cards_read_on_the_device_without_tensorflow(converted):
    tiny, files = converted
    paths = [str(files[s].path) for s in (".tflite", ".onnx")]
    proc = subprocess.run([sys.executable, "-c", READER, *paths], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for suffix in (".tflite", ".onnx"):
        result = files[suffix]
        got = out[str(result.path)]
        assert got["probs"] == len(tiny.labels)
        card = got["card"]
        # what the issue asks every artefact to carry
        assert card["labels"] == list(tiny.labels)
        assert card["input"]["dtype"] == "float32" and card["input"]["shape"][1:] == [50, 101]
        assert card["feature_spec"]["version"] == FEATURE_VERSION and card["feature_spec"]["window_frames"] == 50
        assert card["feature_spec"]["rate"] == 10.0 and card["hop_seconds"] == 1.0
        assert len(card["normalisation"]["mean"]) == 101
        export = card["export"]
        assert export["format"] == result.format.name and export["quant"] == result.format.quant
        assert export["source"]["sha256"] == file_sha256(tiny.path)
        assert export["parity"]["passed"] is True and export["parity"]["n"] == 16
        assert [o["name"] for o in export["outputs"]] == ["embedding", "probs"]
        assert export["inputs"][0]["dtype"] == "float32"
        assert card == json.loads(json.dumps(result.card, default=str)) | {"format": "edgerec-model-card"}


def test_tflite_card_replaces_the_old_one_and_keeps_the_model(converted):
    from ai_edge_litert.interpreter import Interpreter

    tiny, files = converted
    blob = files[".tflite"].path.read_bytes()
    again = tflite_converter.embed_card(blob, {"labels": ["x", "y"], "note": "second"})
    info = TFLiteFile.parse(again, "again")
    assert list(info.metadata).count(CARD_KEY) == 1
    assert json.loads(info.metadata[CARD_KEY])["note"] == "second"
    assert {"min_runtime_version", "CONVERSION_METADATA"} <= set(info.metadata)  # the converter's own entries stay
    assert all(start % 16 == 0 for start, size in info.buffers if size), "buffers must stay 16-byte aligned"

    def run(model: bytes):
        interp = Interpreter(model_content=model)
        interp.allocate_tensors()
        interp.set_tensor(interp.get_input_details()[0]["index"], tiny.test_x[:1])
        interp.invoke()
        return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]

    for a, b in zip(run(blob), run(again)):
        assert (a == b).all()


def test_onnx_card_replaces_the_old_one(converted):
    onnx = pytest.importorskip("onnx")
    _, files = converted
    blob = onnx_converter.embed_card(files[".onnx"].path.read_bytes(), {"labels": ["x", "y"]})
    proto = onnx.ModelProto()
    proto.ParseFromString(blob)
    keys = [p.key for p in proto.metadata_props]
    assert keys.count(CARD_KEY) == 1
    assert json.loads(next(p.value for p in proto.metadata_props if p.key == CARD_KEY))["labels"] == ["x", "y"]


def test_embedded_card_wins_over_a_sidecar_which_is_only_a_fallback(converted, tmp_path):
    tiny, files = converted
    path = files[".tflite"].path
    write_card(path, {"labels": ["stale"]})
    try:
        assert read_card(path)["labels"] == list(tiny.labels)
    finally:
        path.with_name(path.stem + ".card.json").unlink()
    bare = tmp_path / "bare.onnx"
    proto, _ = onnx_converter.convert(export_model(load_source(tiny.path), None).model, "none")
    bare.write_bytes(proto)
    with pytest.raises(ValueError, match=r"bare\.onnx: no edgerec model card inside it or beside it"):
        read_card(bare)
    write_card(bare, {"labels": ["from", "sidecar"]})
    assert read_card(bare)["labels"] == ["from", "sidecar"]
