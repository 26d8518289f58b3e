"""One conversion, end to end: Keras model + card -> checked, self-describing edge file.

1. Load the ``.keras`` model and its card; pick the row of :data:`edge.classify.formats.FORMATS`.
2. Gather inputs (:mod:`converters.inputs`): representative ones to calibrate, held-out
   ones to verify.
3. Convert (:mod:`converters.tflite` / :mod:`converters.onnx`); refuse Flex ops.
4. Write a temporary file beside the output with the card embedded, open it in the edge
   backend the device would use, run it on the held-out inputs and compare with Keras
   (:mod:`converters.verify`). Below the format's thresholds: error, nothing written.
5. Embed the final card (now with the measured parity and held-out metrics) and rename
   the file into place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Optional

import numpy as np

import edge
from converters import ConversionError
from converters._util import captured_output, temp_path_beside
from converters.inputs import InputSet, gather_inputs
from converters.model import OUTPUTS, Source, apply_transform, export_model, load_source, standardise_transform
from converters.verify import Parity, check, failure_message, measure
from edge.classify.backends import load_backend
from edge.classify.formats import ExportFormat, default_output, get_format
from edge.classify.integrity import CARD_FIELD as WEIGHTS_FIELD, weights_digest

_TOOLS = {"tflite": ("tensorflow-cpu", "tensorflow", "keras", "ai-edge-litert"),
          "onnx": ("tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime")}


@dataclass(frozen=True)
class Converted:
    """The written file, its format and card, and what the check measured."""

    path: Path
    format: ExportFormat
    card: dict
    parity: Parity
    size: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def _versions(target: str) -> dict[str, str]:
    out = {}
    for dist in _TOOLS[target]:
        try:
            out[dist.replace("-cpu", "")] = version(dist)
        except PackageNotFoundError:
            continue
    return out


def build_card(source: Source, fmt: ExportFormat, extra: dict[str, Any], inputs: InputSet) -> dict[str, Any]:
    """The converted file's card: the Keras card, the input it takes, and an ``export`` section."""
    card = {k: v for k, v in source.card.items() if k != "format"}
    card["input"] = {"shape": [fmt.batch] + list(source.input_shape), "dtype": "float32"}
    export: dict[str, Any] = {
        "format": fmt.name, "target": fmt.target, "quant": fmt.quant, "backend": fmt.backend,
        "description": fmt.description, "batch": fmt.batch,
        "source": {"file": source.path.name, "sha256": source.sha256, "arch": source.card.get("arch")},
        "output_order": list(OUTPUTS),
        "edgerec_version": edge.__version__, "created_unix": int(time.time()), "tools": _versions(fmt.target),
        **extra,
    }
    if "input_transform" in extra and isinstance(card.get("normalisation"), dict):
        card["normalisation"] = {**card["normalisation"], "inside_model": False,
                                 "applied_by": "the runtime, before the model (export.input_transform)"}
    if fmt.needs_calibration and inputs.calibration is not None:
        export["calibration"] = {"inputs": int(len(inputs.calibration)), "source": inputs.calibration_source}
    card["export"] = export
    return card


def _metric_summary(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"clips_scored": result.get("clips_scored"), "windows": result.get("windows")}
    for level in ("window", "clip_majority", "clip_mean"):
        rep = result.get(level)
        if rep:
            out[level] = {k: rep[k] for k in ("accuracy", "macro_f1", "weighted_f1", "n") if k in rep}
    if result.get("unsure"):
        out["unsure"] = result["unsure"]
    return out


def held_out_metrics(card: dict, inputs: InputSet, keras_out: tuple, converted_out: tuple) -> Optional[dict]:
    """Held-out scores of Keras and of the converted file on the same inputs (real held-out clips only)."""
    if inputs.synthetic or not inputs.held_out_only or not inputs.seqs or inputs.clip is None:
        return None
    from training.evaluate import Loaded, evaluate_loaded

    res = {}
    for name, (probs, emb) in (("keras", keras_out), ("converted", converted_out)):
        loaded = Loaded(Path(name), card, lambda x, p=probs, e=emb: (np.asarray(p, np.float64),
                                                                      None if e is None else np.asarray(e, np.float64)))
        res[name] = _metric_summary(evaluate_loaded(loaded, list(inputs.seqs), inputs=(inputs.verify, inputs.clip)))
    return {"held_out": {"inputs": inputs.source, **res}}


def convert_model(model_path: str | Path, target: str = "tflite", quant: Optional[str] = None,
                  out: Optional[str | Path] = None, calibration: Optional[str | Path] = None,
                  data: Optional[str | Path] = None, inputs: Optional[InputSet] = None,
                  max_abs_diff: Optional[float] = None, min_agreement: Optional[float] = None,
                  threads: int = 1, progress: bool = False, accept_mismatch: bool = False) -> Converted:
    """Convert ``model_path`` to ``target``/``quant``, check it against Keras, write it atomically.

    Below the format's parity limits this raises :class:`~converters.ParityError` and writes
    nothing, unless ``accept_mismatch``: then the file is written with ``passed: false`` in
    its card's parity and a note (for reports that must show a failing format).
    """
    started = time.time()
    fmt = get_format(target, quant)
    source = load_source(model_path)
    out = Path(out) if out is not None else default_output(source.path, fmt)
    if out.suffix.lower() != fmt.suffix:
        raise ConversionError(f"{out}: a {fmt.name} file must end in {fmt.suffix}")
    if inputs is None:
        inputs = gather_inputs(source.card, source.input_shape, Path(calibration) if calibration else None,
                               Path(data) if data else None, fmt.needs_calibration, progress=progress)
    if fmt.needs_calibration and (inputs.calibration is None or len(inputs.calibration) == 0):
        raise ConversionError(f"{fmt.name} needs representative inputs: pass --calibration DIR")
    notes: list[str] = []
    if inputs.synthetic:
        notes.append(f"verified on {inputs.source}")
    transform = standardise_transform(source.card) if fmt.standardise_outside else None
    calibration = None if inputs.calibration is None else apply_transform(inputs.calibration, transform)
    if fmt.target == "tflite":
        from converters import tflite

        unroll = bool(fmt.quant == "int8" and source.recurrent)
        if fmt.quant == "int8":
            raw = tflite.convert_int8(source.path, unroll, calibration, transform is not None)
        else:
            raw = tflite.keras_to_tflite(export_model(source, fmt.batch, standardise_outside=False).model, fmt.quant)
        tflite.check_builtins(raw, str(out))
        extra: dict[str, Any] = {"ops": tflite.op_names(raw), "unrolled": unroll,
                                 "stateful_reset": "variables reset before every invocation"}
        embed = tflite.embed_card
    else:
        from converters import onnx as onnx_converter

        export = export_model(source, fmt.batch, standardise_outside=transform is not None)
        raw, report = onnx_converter.convert(export.model, fmt.quant, calibration)
        extra = {"opset": onnx_converter.OPSET, "quantisation": report}
        notes += report["notes"]
        embed = onnx_converter.embed_card
    if transform is not None:
        extra["input_transform"] = transform
    card = build_card(source, fmt, extra, inputs)
    card[WEIGHTS_FIELD] = weights_digest(raw, fmt.suffix, str(out))  # verified by every load, this one first
    tmp = temp_path_beside(out)
    try:
        tmp.write_bytes(embed(raw, card))
        with captured_output():  # LiteRT announces its XNNPACK delegate on stderr
            backend = load_backend(tmp, threads=threads)
        with backend:
            parity, ref, got = measure(source.predict, backend, inputs.verify, inputs.source)
            io = backend.describe()
        parity = check(parity, fmt, max_abs_diff, min_agreement, raise_on_failure=not accept_mismatch)
        if not parity.passed:
            notes.append(f"FAILED the parity check, written because asked to: {failure_message(parity, fmt)}")
        card["export"].update(io)
        card["export"]["parity"] = parity.to_dict()
        metrics = held_out_metrics(card, inputs, ref, got)
        if metrics:
            card["export"]["metrics"] = metrics
        card["export"]["notes"] = notes
        final = embed(raw, card)
        with open(tmp, "wb") as fh:
            fh.write(final)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return Converted(out, fmt, card, parity, out.stat().st_size, round(time.time() - started, 1), notes)
