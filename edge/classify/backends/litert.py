"""``.tflite`` files on LiteRT (``ai-edge-litert``), falling back to ``tflite-runtime``.

Before the interpreter sees the file, the pure-Python reader in :mod:`edge.classify.metadata`
walks it: a truncated file, a file of another format with a ``.tflite`` name, or one
containing Select-TF ("Flex") ops is refused with a one-line error instead of a crash deep
in the runtime. Variable tensors (the state of a fused LSTM) are reset before every
invocation, so each window is classified on its own.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

import numpy as np

from edge.core.optional import MissingDependency, require
from edge.core.stdio import drop_native_lines
from edge.classify.backends.base import Backend, TensorSpec, dequantise, quantise
from edge.classify.metadata import CARD_KEY, TFLiteFile, parse_card


def interpreter_module() -> Any:
    """``ai_edge_litert.interpreter``, else ``tflite_runtime.interpreter``."""
    try:
        return importlib.import_module("ai_edge_litert.interpreter")
    except ImportError:
        pass
    try:
        return importlib.import_module("tflite_runtime.interpreter")
    except ImportError:
        pass
    try:
        return require("ai_edge_litert.interpreter", "edge", "ai-edge-litert")
    except MissingDependency as exc:
        raise MissingDependency(f"{exc} (tflite-runtime works too)") from None


def _spec(detail: dict[str, Any], name: Optional[str] = None) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    dtype = np.dtype(detail["dtype"]).name
    shape = tuple(int(d) if d >= 0 else None for d in detail.get("shape_signature", detail["shape"]))
    return TensorSpec(name or detail["name"], int(detail["index"]), shape, dtype, float(scale), int(zero))


class LiteRTBackend(Backend):
    """A .tflite model on LiteRT; ``threads`` is the interpreter's thread count."""

    name = "litert"
    suffix = ".tflite"

    def _open(self) -> Optional[dict[str, Any]]:
        data = self.path.read_bytes()
        self.info = TFLiteFile.parse(data, str(self.path))
        if self.info.flex_ops:
            raise ValueError(f"{self.path}: contains Select TF (Flex) ops {', '.join(sorted(set(self.info.flex_ops)))}, "
                             "which LiteRT cannot run without TensorFlow; convert with builtin ops only")
        module = interpreter_module()
        try:
            with drop_native_lines():
                self._interp = module.Interpreter(model_content=data, num_threads=self.threads)
                self._interp.allocate_tensors()
        except Exception as exc:  # noqa: BLE001 - the runtime raises RuntimeError/ValueError
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{self.path}: LiteRT cannot load it: {first[:200]}") from exc
        details = {d["index"]: d for d in self._interp.get_input_details() + self._interp.get_output_details()}
        inputs = {d["name"]: d for d in self._interp.get_input_details()}
        outputs = {d["name"]: d for d in self._interp.get_output_details()}
        signatures = getattr(self._interp, "_get_full_signature_list", lambda: {})() or {}
        if len(signatures) == 1:  # name tensors by their signature keys ("features", "probs", ...)
            sig = next(iter(signatures.values()))
            inputs = {k: details[i] for k, i in sig.get("inputs", {}).items()}
            outputs = {k: details[i] for k, i in sig.get("outputs", {}).items()}
        if len(inputs) != 1:
            raise ValueError(f"{self.path}: expected one input tensor, the file has {len(inputs)}")
        self.input = _spec(next(iter(inputs.values())))
        self.outputs = {k: _spec(d) for k, d in outputs.items()}
        if self.input.dtype in ("int8", "uint8") and not self.input.quantised:
            raise ValueError(f"{self.path}: {self.input.dtype} input without quantisation parameters")
        self.stateful = True  # reset_all_variables() is cheap; a fused LSTM needs it per window
        raw = self.info.metadata.get(CARD_KEY)
        return None if raw is None else parse_card(raw, f"{self.path} (embedded card)")

    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        interp = self._interp
        if self.stateful:
            interp.reset_all_variables()
        spec = self.input
        if tuple(interp.get_input_details()[0]["shape"])[:1] != (len(x),):  # a dynamic-batch file
            interp.resize_tensor_input(spec.index, list(x.shape))
            interp.allocate_tensors()
        interp.set_tensor(spec.index, quantise(x, spec) if spec.quantised else x.astype(spec.dtype, copy=False))
        interp.invoke()
        out = {}
        for name, o in self.outputs.items():
            value = interp.get_tensor(o.index)
            out[name] = dequantise(value, o) if o.quantised else value.astype(np.float32, copy=False)
        return out

    def close(self) -> None:
        self._interp = None

    @property
    def ops(self) -> list[str]:
        """Op names of the loaded graph (for reports and the Flex check in tests)."""
        return sorted({op["op_name"] for op in self._interp._get_ops_details()})
