"""Building the ONNX variants of the BlazePose models (``edgerec pose build``).

LiteRT cannot re-quantise an existing ``.tflite``, so each fetched model is converted to
ONNX with tf2onnx (the detector's block-sparse weights made dense first), checked against
LiteRT on the same inputs, and derived into the variants of
:data:`edge.pose.models.POSE_VARIANTS` (ONNX Runtime's quantisation and float16 tools).
This module needs tf2onnx and so TensorFlow (the ``convert`` extra); running a variant
needs only ONNX Runtime, which is why it lives here and not in ``edge``.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional, Sequence

import numpy as np

from edge.pose.models import (DETECTOR_NAME, LANDMARKER_NAME, MEDIAPIPE_VERSION, POSE_VARIANTS, _write_atomic,
                              find_pose_models, pose_models_dir, pose_variant)

if TYPE_CHECKING:  # pragma: no cover
    import onnx

# --- quantised variants ----------------------------------------------------------------------
#
# Build: source .tflite -> (detector: sparse weights made dense) -> ONNX float32 (tf2onnx),
# checked against LiteRT on the same inputs -> each variant's ``derive`` on that ONNX model.

ONNX_OPSET = 17
#: The largest |ONNX - LiteRT| allowed on any output of the float32 conversion, relative to
#: that output's largest magnitude (float32 summation order differs, nothing else).
CONVERSION_RTOL = 1e-3
#: Outputs left out of that check: the landmark model's segmentation logits (up to ~1600,
#: differing by ~2e-3 relative), which the pose stage does not use.
_UNCHECKED_OUTPUTS = {(1, 256, 256, 1)}

# role -> (source file, input range of the model's float input)
_ROLES: dict[str, tuple[str, tuple[float, float]]] = {
    "detector": (DETECTOR_NAME, (-1.0, 1.0)),
    "landmarker": (LANDMARKER_NAME, (0.0, 1.0)),
}


def _tool_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("tf2onnx", "onnx", "onnxruntime", "tensorflow-cpu", "ai-edge-litert"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _derive_same(model: "onnx.ModelProto", calibration: Sequence[np.ndarray]) -> "onnx.ModelProto":
    """float32 ONNX, as converted (the reference for the quantised ones)."""
    return model


def _derive_dynamic(model: "onnx.ModelProto", calibration: Sequence[np.ndarray]) -> "onnx.ModelProto":
    """Weights int8 (uint8: ONNX Runtime's CPU ConvInteger takes only uint8), activations
    quantised per call from their observed range (``quantize_dynamic``)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="edgerec-quant-") as tmp:
        src, out = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(model, src)
        quantize_dynamic(src, out, weight_type=QuantType.QUInt8, per_channel=False)
        return onnx.load(out)


def _derive_float16(model: "onnx.ModelProto", calibration: Sequence[np.ndarray]) -> "onnx.ModelProto":
    """Weights and arithmetic in float16, inputs and outputs float32 (ONNX Runtime's bundled
    copy of onnxconverter-common's converter, so no extra package)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(model, keep_io_types=True)


def _derive_int8(model: "onnx.ModelProto", calibration: Sequence[np.ndarray]) -> "onnx.ModelProto":
    """Static int8 (QDQ): weights int8 per channel, activations uint8 with ranges fixed from
    ``calibration`` inputs (min/max)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if not calibration:
        raise ValueError("static int8 needs calibration inputs")
    name = model.graph.input[0].name

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(calibration)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x}

    with tempfile.TemporaryDirectory(prefix="edgerec-quant-") as tmp:
        src, out = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(model, src)
        quantize_static(src, out, _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=_head_nodes(model))
        return onnx.load(out)


def _head_nodes(model: "onnx.ModelProto") -> list[str]:
    """The nodes between each graph output and the last Conv/Gemm/MatMul before it (that
    one included), left in float by static int8: calibration crops all hold a person, so
    a quantised pose-presence logit could never fall below their range, and the landmark
    and heatmap heads keep their full resolution."""
    producer = {o: n for n in model.graph.node for o in n.output}
    keep: list[str] = []
    stack = [o.name for o in model.graph.output]
    seen: set[str] = set()
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        keep.append(node.name)
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            stack.extend(i for i in node.input if i in producer)
    return keep


#: Variant name -> how its ONNX model is made from the float32 conversion.
DERIVE = {"onnx": _derive_same, "dynamic": _derive_dynamic, "float16": _derive_float16, "int8": _derive_int8}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _densify_tflite(src: Path, dst: Path) -> int:
    """Write ``src`` to ``dst`` with every ``DENSIFY`` op replaced by its dense constant
    output (the detector stores 38 weights block-sparse, which tf2onnx cannot parse). The
    dense values are read from LiteRT's own reference kernels (no XNNPACK, which consumes
    sparse weights itself). Returns the number of ops replaced."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    graph = model.subgraphs[0]
    densify = schema.BuiltinOperator.DENSIFY
    interp = Interpreter(model_path=str(src), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    interp.invoke()
    kept, replaced = [], 0
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != densify:
            kept.append(op)
            continue
        sparse, dense = op.inputs[0], op.outputs[0]
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(interp.get_tensor(dense)).tobytes(), np.uint8)
        model.buffers.append(buf)
        graph.tensors[dense].buffer = len(model.buffers) - 1
        graph.tensors[sparse].buffer = 0  # the empty buffer: the sparse copy is dropped
        graph.tensors[sparse].sparsity = None
        replaced += 1
    graph.operators = kept
    flatbuffer_utils.write_model(model, str(dst))
    return replaced


def _run_tflite(path: Path, x: np.ndarray) -> dict[tuple[int, ...], np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return {tuple(d["shape"]): interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def _run_onnx(model: "onnx.ModelProto", x: np.ndarray) -> dict[tuple[int, ...], np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return {o.shape: o for o in sess.run(None, {sess.get_inputs()[0].name: x})}


def _conversion_error(tflite: Path, model: "onnx.ModelProto", inputs: Sequence[np.ndarray]) -> float:
    """The largest |ONNX - LiteRT| over all outputs and ``inputs``, relative to each
    output's largest magnitude (at least 1: pose presence is a probability)."""
    worst = 0.0
    for x in inputs:
        ref, got = _run_tflite(tflite, x), _run_onnx(model, x)
        for shape, r in ref.items():
            if shape in _UNCHECKED_OUTPUTS:
                continue
            scale = max(float(np.abs(r).max()), 1.0)  # presence is a probability
            worst = max(worst, float(np.abs(got[shape] - r).max()) / scale)
    return worst


def _to_onnx(src: Path, tmp: Path) -> tuple["onnx.ModelProto", float]:
    """The float32 ONNX conversion of ``src`` and its relative error against LiteRT on four
    random inputs in the model's input range (ValueError above :data:`CONVERSION_RTOL`)."""
    import tf2onnx

    dense = tmp / f"{src.stem}.dense.tflite"
    _densify_tflite(src, dense)
    model, _ = tf2onnx.convert.from_tflite(str(dense), opset=ONNX_OPSET)
    lo, hi = next(r for f, r in _ROLES.values() if f == src.name)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(lo, hi, shape).astype(np.float32) for _ in range(4)]
    err = _conversion_error(src, model, inputs)
    if not err <= CONVERSION_RTOL:
        raise ValueError(f"{src.name}: ONNX conversion differs from LiteRT by {err:.2e} (relative)")
    return model, err


def _stamp(model: "onnx.ModelProto", props: dict[str, str]) -> None:
    """Record what the file is in its ONNX ``metadata_props`` (replacing earlier keys)."""
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)


def calibration_inputs(videos: Iterable[Path], every: int = 10, limit: int = 30) -> dict[str, list[np.ndarray]]:
    """Model inputs for static quantisation, from the float32 native stage tracking each
    video: the detector's input on every ``every``-th frame (the stage itself runs the
    detector only when tracking is lost) and the landmark model's input on the same frames,
    at most ``limit`` frames per video. Keys: ``detector``, ``landmarker``."""
    from edge.pose.native import NativePose, read_frames

    out: dict[str, list[np.ndarray]] = {"detector": [], "landmarker": []}
    pose = NativePose()
    for video in videos:
        pose.reset()
        frames = read_frames(Path(video))[: every * limit]
        for i, frame in enumerate(frames):
            sampled = i % every == 0
            pose.on_input = (lambda role, x: out[role].append(np.array(x, copy=True))) if sampled else None
            if sampled:
                pose.run_detector(frame)
            pose.process(frame)
    pose.close()
    return out


def build_pose_variants(
    dest: Optional[Path] = None,
    variants: Optional[Sequence[str]] = None,
    calibration_videos: Sequence[Path] = (),
) -> list[Path]:
    """Build the ONNX pose variants into ``dest`` (default :func:`pose_models_dir`, which
    must already hold the fetched models) and return the files written.

    ``variants`` (default: every buildable one) names :data:`POSE_VARIANTS` entries;
    calibrated ones (``int8``) are skipped when ``calibration_videos`` is empty. Every file
    is written atomically and records in its ``metadata_props`` the variant, the source
    model's sha256, the conversion's relative error against LiteRT, the tool versions and,
    when calibrated, the calibration videos. Needs ``tf2onnx``/TensorFlow (the convert
    extra); running the variants does not.
    """
    folder = Path(dest) if dest is not None else pose_models_dir()
    find_pose_models(folder)  # the sources must be there
    names = list(variants) if variants is not None else [n for n, v in POSE_VARIANTS.items() if v.built]
    specs = [pose_variant(n) for n in names]
    if any(not s.built for s in specs):
        raise ValueError(f"{[s.name for s in specs if not s.built]} are fetched, not built: edgerec pose fetch")
    calib: dict[str, list[np.ndarray]] = {}
    if any(s.calibrated for s in specs) and calibration_videos:
        calib = calibration_inputs(calibration_videos)
    tools = _tool_versions()
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="edgerec-pose-variants-") as tmp:
        for role, (source, _) in _ROLES.items():
            src = folder / source
            base, err = _to_onnx(src, Path(tmp))
            for spec in specs:
                if spec.calibrated and not calib:
                    continue
                model = DERIVE[spec.name](base, calib.get(role, []))
                props = {
                    "edgerec.variant": spec.name,
                    "edgerec.role": role,
                    "edgerec.source": source,
                    "edgerec.source_sha256": _sha256(src),
                    "edgerec.mediapipe_version": MEDIAPIPE_VERSION,
                    "edgerec.conversion_rel_error": f"{err:.3e}",
                    "edgerec.onnx_opset": str(ONNX_OPSET),
                    **{f"edgerec.tool.{k}": v for k, v in tools.items()},
                }
                if spec.calibrated:
                    props["edgerec.calibration"] = (
                        f"{len(calib[role])} inputs from every 10th frame of "
                        + ", ".join(Path(v).name for v in calibration_videos))
                _stamp(model, props)
                out = folder / (spec.detector if role == "detector" else spec.landmarker)
                _write_atomic(out, model.SerializeToString())
                written.append(out)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m converters.pose build [--variant NAME]... [--calibrate VIDEO]...``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m converters.pose", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the ONNX pose variants into the model cache")
    b.add_argument("--variant", action="append", choices=[n for n, v in POSE_VARIANTS.items() if v.built])
    b.add_argument("--calibrate", action="append", default=[], type=Path,
                   help="a video whose frames calibrate the static int8 variant (repeatable)")
    b.add_argument("--dest", type=Path, default=None)
    args = parser.parse_args(argv)
    for path in build_pose_variants(args.dest, args.variant, args.calibrate):
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
