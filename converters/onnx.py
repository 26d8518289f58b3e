"""Keras -> ONNX (tf2onnx, opset 17), optionally quantised by ONNX Runtime, card in metadata_props.

Quantisations (``--quant``): ``none`` (float32); ``dynamic`` (int8 weights, activations
quantised at run time: ``quantize_dynamic``); ``static`` (int8 weights and activations in
QDQ form, calibrated on representative windows: ``quantize_static``). The batch axis stays
dynamic; inputs and outputs stay float32.

What quantisation cannot reach is reported, not hidden: tf2onnx turns Keras LSTMs into
the ONNX ``LSTM`` op (which dynamic quantisation handles) but GRUs into a ``Loop`` whose
body ONNX Runtime's quantiser never enters, so a GRU's matrix products stay float32.
:func:`quantisation_report` counts them and the card and ``convert`` say so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from converters import ConversionError
from converters._util import captured_output
from training.cli import quiet_tensorflow
from edge.core.optional import require
from edge.classify.metadata import CARD_KEY, card_json

QUANTS = ("none", "dynamic", "static")
OPSET = 17
#: Ops doing the heavy arithmetic, float when left unquantised.
_COMPUTE = {"MatMul", "Gemm", "Conv", "LSTM", "GRU", "RNN"}
_QUANTISED = {"MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul", "DynamicQuantizeLSTM",
              "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}


def keras_to_onnx(export: Any, opset: int = OPSET) -> Any:
    """An ONNX ModelProto of an export model, dynamic batch, input ``features``."""
    quiet_tensorflow()
    tf = require("tensorflow", "convert", "tensorflow-cpu")
    tf2onnx = require("tf2onnx", "convert")
    shape = (None,) + tuple(int(d) for d in export.inputs[0].shape[1:])
    spec = (tf.TensorSpec(shape, tf.float32, name="features"),)
    try:
        with captured_output() as log:
            proto, _ = tf2onnx.convert.from_keras(export, input_signature=spec, opset=opset)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else log.last_error_line()
        raise ConversionError(f"tf2onnx failed: {first[:300]}") from exc
    names = [o.name for o in proto.graph.output]
    if sorted(names) != ["embedding", "probs"]:
        raise ConversionError(f"tf2onnx named the outputs {names}, expected embedding and probs")
    return proto


class _Reader:
    """ONNX Runtime calibration reader over representative inputs, one per call."""

    def __init__(self, name: str, x: np.ndarray):
        self._it = iter([{name: x[i:i + 1]} for i in range(len(x))])

    def get_next(self) -> Optional[dict]:
        return next(self._it, None)


def quantise(proto: Any, quant: str, representative: Optional[np.ndarray] = None) -> Any:
    """Quantise a float ModelProto with ONNX Runtime (``dynamic`` or ``static``)."""
    if quant == "none":
        return proto
    if quant not in QUANTS:
        raise ConversionError(f"unknown ONNX quantisation {quant!r}; choose one of {', '.join(QUANTS)}")
    onnx = require("onnx", "convert")
    q = require("onnxruntime.quantization", "convert", "onnxruntime")
    with tempfile.TemporaryDirectory(prefix="edgerec-onnx-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "quant.onnx"
        onnx.save(proto, str(src))
        try:
            with captured_output():
                if quant == "dynamic":
                    q.quantize_dynamic(str(src), str(dst), weight_type=q.QuantType.QInt8)
                else:
                    if representative is None or len(representative) == 0:
                        raise ConversionError("static quantisation needs representative inputs (--calibration DIR)")
                    pre = Path(tmp) / "pre.onnx"
                    try:
                        q.quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
                    except Exception:  # noqa: BLE001 - pre-processing is an optimisation only
                        pre = src
                    reader = _Reader(proto.graph.input[0].name, np.asarray(representative, np.float32))
                    q.quantize_static(str(pre), str(dst), reader, quant_format=q.QuantFormat.QDQ,
                                      activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                                      per_channel=True)
        except ConversionError:
            raise
        except Exception as exc:  # noqa: BLE001
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConversionError(f"ONNX Runtime {quant} quantisation failed: {first[:300]}") from exc
        return onnx.load(str(dst))


def _walk(graph: Any, in_loop: bool, counts: dict) -> None:
    producer = {out: node.op_type for node in graph.node for out in node.output}
    key = "loop" if in_loop else "main"
    for node in graph.node:
        # QDQ form: a compute op is quantised when its weights come out of a DequantizeLinear
        qdq = node.op_type in _COMPUTE and any(producer.get(i) == "DequantizeLinear" for i in node.input[1:2])
        if node.op_type in _QUANTISED or qdq:
            counts[f"{key}_quantised"] += 1
        elif node.op_type in _COMPUTE:
            counts[f"{key}_float"] += 1
            counts[f"{key}_float_types"].add(node.op_type)
        if node.op_type in ("Loop", "Scan"):
            counts["loops"] += 1
        for attr in node.attribute:
            for g in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                _walk(g, in_loop or node.op_type in ("Loop", "Scan"), counts)


def quantisation_report(proto: Any, quant: str) -> dict[str, Any]:
    """How many compute ops (MatMul, Gemm, Conv, LSTM...) were quantised and how many stayed float."""
    counts: dict[str, Any] = {"main_quantised": 0, "main_float": 0, "loop_quantised": 0, "loop_float": 0,
                              "loops": 0, "main_float_types": set(), "loop_float_types": set()}
    _walk(proto.graph, False, counts)
    report: dict[str, Any] = {
        "quant": quant,
        "quantised_ops": counts["main_quantised"] + counts["loop_quantised"],
        "float_ops_outside_loops": counts["main_float"],
        "float_ops_in_loop_bodies": counts["loop_float"],
        "loop_nodes": counts["loops"],
        "float_op_types_outside_loops": sorted(counts["main_float_types"]),
        "float_op_types_in_loop_bodies": sorted(counts["loop_float_types"]),
    }
    notes = []
    if quant != "none" and counts["loop_float"]:
        notes.append(f"{counts['loop_float']} compute ops inside {counts['loops']} Loop bodies stay float32: "
                     "ONNX Runtime quantisation does not enter Loop bodies (tf2onnx turns GRUs into Loops)")
    if quant != "none" and counts["main_float"]:
        notes.append(f"{counts['main_float']} compute ops outside loops stay float32 "
                     f"({', '.join(sorted(counts['main_float_types']))}): not supported by ONNX Runtime's {quant} quantiser")
    report["notes"] = notes
    return report


def embed_card(blob: bytes, card: dict) -> bytes:
    """``blob`` (a serialised ModelProto) with ``card`` under ``metadata_props[edgerec_card]``."""
    onnx = require("onnx", "convert")
    proto = onnx.ModelProto()
    proto.ParseFromString(blob)
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != CARD_KEY]
    del proto.metadata_props[:]
    for key, value in keep + [(CARD_KEY, card_json(card).decode("utf-8"))]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def convert(export: Any, quant: str, representative: Optional[np.ndarray] = None) -> tuple[bytes, dict]:
    """(serialised ONNX model, quantisation report) for an export model."""
    proto = keras_to_onnx(export)
    proto = quantise(proto, quant, representative)
    proto.producer_name = "edgerec"
    return proto.SerializeToString(), quantisation_report(proto, quant)
