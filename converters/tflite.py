"""Keras -> TFLite, builtin ops only, with the model card embedded in the flatbuffer.

Quantisations (``--quant``): ``float32``; ``float16`` (weights stored as float16);
``dynamic`` (int8 weights, float activations); ``int8`` (full integer, int8 input and
output, calibrated on representative windows).

Traps handled here, each verified on this machine (TF 2.19.1):

* Recurrent layers convert to builtins only with a fixed batch: every TFLite file has
  batch 1 (the export model is rebuilt with ``batch_size=1``).
* Full-integer conversion of a rolled LSTM/GRU kills the converter process with a
  segmentation fault. int8 conversion therefore runs in a subprocess
  (``python -m converters.tflite REQUEST.json``), recurrent layers are unrolled for it,
  and a crash becomes a one-line :class:`~converters.ConversionError`.
* Ops without a TFLite builtin (Flex / Select TF ops) cannot run on the lean runtimes:
  the converter is restricted to builtins and the written file is checked again
  (:func:`check_builtins`).

The card goes into ``Model.metadata`` as ``edgerec_card`` (see :mod:`edge.classify.metadata`),
written with TensorFlow's bundled flatbuffer schema, buffers kept 16-byte aligned.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from converters import ConversionError, FlexOpsError
from converters._util import captured_output
from training.cli import quiet_tensorflow
from edge.core.optional import require
from edge.classify.metadata import CARD_KEY, TFLITE_IDENTIFIER, TFLiteFile, card_json
from edge.core import jsonio

QUANTS = ("float32", "float16", "dynamic", "int8")
_FLEX_HINT = "the lean runtimes (LiteRT, tflite-runtime) cannot run them; change the model to builtin ops"


def _tf() -> Any:
    quiet_tensorflow()
    return require("tensorflow", "convert", "tensorflow-cpu")


def flex_ops_in_message(text: str) -> list[str]:
    """Op names a converter error says have no builtin (``tf.MatrixDeterminant`` -> MatrixDeterminant)."""
    names = set(re.findall(r"\btf\.([A-Z][A-Za-z0-9_]*)", text)) | set(re.findall(r"\bFlex([A-Z][A-Za-z0-9_]*)", text))
    return sorted(names)


def keras_to_tflite(export: Any, quant: str, representative: Optional[np.ndarray] = None) -> bytes:
    """Convert an export model (fixed batch) in this process. int8: use :func:`convert_int8`."""
    if quant not in QUANTS:
        raise ConversionError(f"unknown TFLite quantisation {quant!r}; choose one of {', '.join(QUANTS)}")
    tf = _tf()
    with captured_output() as log:
        converter = tf.lite.TFLiteConverter.from_keras_model(export)
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quant == "int8":
        if representative is None or len(representative) == 0:
            raise ConversionError("int8 needs representative inputs (--calibration DIR)")
        reps = np.asarray(representative, np.float32)
        batch = int(export.inputs[0].shape[0] or 1)

        def dataset():
            for i in range(0, len(reps) - batch + 1, batch):
                yield [reps[i:i + batch]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    converter.target_spec.supported_ops = ops
    try:
        with captured_output() as log:
            blob = converter.convert()
    except Exception as exc:  # noqa: BLE001 - ConverterError and friends
        text = f"{exc}\n{log.text}"
        flex = flex_ops_in_message(text)
        if flex or "Select TF" in text or "not supported by the native TFLite runtime" in text:
            names = ", ".join(flex) if flex else "see the converter log"
            raise FlexOpsError(f"the model needs TensorFlow ops with no TFLite builtin ({names}); {_FLEX_HINT}") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"the TFLite converter failed: {first[:300]}") from exc
    return bytes(blob)


def check_builtins(blob: bytes, where: str = "<converted model>") -> TFLiteFile:
    """Refuse a file holding Flex (Select TF) ops; returns the parsed file."""
    info = TFLiteFile.parse(blob, where)
    if info.flex_ops:
        raise FlexOpsError(f"{where}: contains Select TF (Flex) ops {', '.join(sorted(set(info.flex_ops)))}; "
                           f"{_FLEX_HINT}")
    return info


def op_names(blob: bytes) -> list[str]:
    """Builtin and custom op names in a TFLite file (for the card)."""
    schema = _schema()
    model = schema.Model.GetRootAs(blob, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = code.CustomCode()
        if custom:
            out.add(custom.decode())
        else:
            out.add(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN"))
    return sorted(out)


# ------------------------------------------------------------------ the card inside the flatbuffer


def _schema() -> Any:
    _tf()
    return require("tensorflow.lite.python.schema_py_generated", "convert", "tensorflow-cpu")


def embed_card(blob: bytes, card: dict) -> bytes:
    """``blob`` with ``card`` as the ``edgerec_card`` metadata entry (replacing an older one)."""
    schema = _schema()
    flatbuffers = require("flatbuffers", "convert")

    class AlignedBuffer(schema.BufferT):
        """Buffers 16-byte aligned, as the TFLite schema asks (the generated Pack aligns to 1)."""

        def Pack(self, builder: Any) -> int:
            data = None
            if self.data is not None:
                raw = np.asarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(raw), 16)
                builder.head = builder.head - len(raw)
                builder.Bytes[builder.head:builder.head + len(raw)] = raw
                data = builder.EndVector()
            schema.BufferStart(builder)
            if data is not None:
                schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    if blob[4:8] != TFLITE_IDENTIFIER:
        raise ConversionError("not a TFLite flatbuffer; cannot embed the card")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(blob, 0))
    for b in model.buffers or []:
        if b.offset and b.offset > 1:  # > 2 GB layout keeps data outside the flatbuffer
            b.data = np.frombuffer(blob[b.offset:b.offset + b.size], np.uint8)
            b.offset, b.size = 0, 0
    buffers = []
    for b in model.buffers or []:
        nb = AlignedBuffer()
        nb.data, nb.offset, nb.size = b.data, b.offset, b.size
        buffers.append(nb)
    keep = []
    for m in model.metadata or []:
        name = m.name.decode() if isinstance(m.name, bytes) else m.name
        if name != CARD_KEY:
            keep.append(m)
        elif 0 <= m.buffer < len(buffers):
            buffers[m.buffer].data = None  # the old card's bytes (indices stay, so tensors keep theirs)
    payload = AlignedBuffer()
    payload.data = np.frombuffer(card_json(card), np.uint8)
    payload.offset = payload.size = 0
    buffers.append(payload)
    meta = schema.MetadataT()
    meta.name = CARD_KEY
    meta.buffer = len(buffers) - 1
    keep.append(meta)
    model.buffers = buffers
    model.metadata = keep
    builder = flatbuffers.Builder(len(blob) + 65536)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())


# ------------------------------------------------------------------ int8 in a subprocess


def convert_int8(model_path: Path, unroll: bool, representative: np.ndarray, standardise_outside: bool = False,
                 timeout: float = 1800) -> bytes:
    """Full-integer conversion in a child process, so a converter crash cannot take us down.

    ``representative`` inputs are given as the file will receive them (already standardised
    when ``standardise_outside``).
    """
    with tempfile.TemporaryDirectory(prefix="edgerec-int8-") as tmp:
        tmp_dir = Path(tmp)
        np.save(tmp_dir / "representative.npy", np.asarray(representative, np.float32))
        request = {"model": str(Path(model_path).resolve()), "unroll": unroll,
                   "standardise_outside": standardise_outside,
                   "representative": str(tmp_dir / "representative.npy"),
                   "out": str(tmp_dir / "model.tflite"), "result": str(tmp_dir / "result.json")}
        (tmp_dir / "request.json").write_text(jsonio.dumps(request))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        try:
            proc = subprocess.run([sys.executable, "-m", "converters.tflite", str(tmp_dir / "request.json")],
                                  capture_output=True, text=True, timeout=timeout, env=env,
                                  cwd=str(Path(__file__).resolve().parents[1]))
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(f"int8 conversion did not finish within {timeout:.0f} s") from exc
        result = tmp_dir / "result.json"
        if proc.returncode < 0:
            sig = -proc.returncode
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
            hint = (" (full-integer conversion of rolled LSTM/GRU layers does this; they were unrolled)" if unroll
                    else " (recurrent layers must be unrolled for full-integer conversion)")
            raise ConversionError(f"the TFLite converter crashed ({name}) during int8 conversion{hint}; "
                                  "try --quant dynamic or float16")
        if result.exists():
            outcome = json.loads(result.read_text())
            if "error" in outcome:
                cls = FlexOpsError if outcome.get("kind") == "FlexOpsError" else ConversionError
                raise cls(outcome["error"])
        if proc.returncode != 0 or not Path(request["out"]).exists():
            lines = [l for l in (proc.stderr or "").splitlines() if l.strip()]
            raise ConversionError(f"int8 conversion failed (exit {proc.returncode}): {(lines or ['no output'])[-1][:300]}")
        return Path(request["out"]).read_bytes()


def _worker(request_path: str) -> int:
    """Child side of :func:`convert_int8`: load, rebuild (batch 1, unrolled), convert, write."""
    request = json.loads(Path(request_path).read_text())
    result = Path(request["result"])
    try:
        from converters.model import export_model, load_source

        source = load_source(request["model"])
        export = export_model(source, batch_size=1, unroll=bool(request["unroll"]),
                              standardise_outside=bool(request.get("standardise_outside")))
        reps = np.load(request["representative"])
        blob = keras_to_tflite(export.model, "int8", reps)
        Path(request["out"]).write_bytes(blob)
        result.write_text(jsonio.dumps({"ok": True}))
        return 0
    except ConversionError as exc:
        result.write_text(jsonio.dumps({"error": str(exc), "kind": type(exc).__name__}))
        return 1


if __name__ == "__main__":  # pragma: no cover - run as the int8 subprocess
    sys.exit(_worker(sys.argv[1]))
