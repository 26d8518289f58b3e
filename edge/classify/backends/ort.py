"""``.onnx`` files on ONNX Runtime.

``threads`` sets the intra-op thread pool (inter-op is 1: the graphs are sequential).
With more than one thread, spinning is turned off: on a 2-core device ONNX Runtime's
spinning workers compete with the camera and pose threads and 2 threads end up slower
than 1 (measured, see ENVIRONMENT.md). ``providers`` are ONNX Runtime execution providers
in order of preference (default: CPU only).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from edge.core.optional import require
from edge.classify.backends.base import Backend, TensorSpec, dequantise, quantise
from edge.classify.metadata import looks_like, onnx_session, read_onnx_card, sniff

_DTYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
           "tensor(float16)": "float16", "tensor(double)": "float64"}


def session_options(threads: int) -> Any:
    ort = require("onnxruntime", "edge")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _dim(d: Any) -> Optional[int]:
    return int(d) if isinstance(d, int) and d > 0 else None


class OnnxRuntimeBackend(Backend):
    """An .onnx model on ONNX Runtime."""

    name = "onnxruntime"
    suffix = ".onnx"

    def __init__(self, path: Any, threads: int = 1, card: Optional[dict[str, Any]] = None,
                 providers: Optional[Sequence[str]] = None):
        self.providers = tuple(providers) if providers else ("CPUExecutionProvider",)
        super().__init__(path, threads, card)

    def _open(self) -> Optional[dict[str, Any]]:
        ort = require("onnxruntime", "edge")
        available = ort.get_available_providers()
        missing = [p for p in self.providers if p not in available]
        if missing:
            raise ValueError(f"{self.path}: execution provider(s) {', '.join(missing)} not available here; "
                             f"available: {', '.join(available)}")
        with open(self.path, "rb") as fh:
            head = fh.read(16)
        if sniff(head) in ("tflite", "keras", "json"):
            raise ValueError(f"{self.path}: not an ONNX file{looks_like(head)}")
        self._session = onnx_session(self.path, session_options(self.threads), self.providers)
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"{self.path}: expected one input tensor, the file has {len(inputs)}")
        i = inputs[0]
        card = read_onnx_card(self.path, self._session)  # damaged (non-UTF-8) metadata is one line naming the file
        qin = self._recorded_quantisation(card, "inputs", 0)
        self.input = TensorSpec(i.name, i.name, tuple(_dim(d) for d in i.shape), _DTYPES.get(i.type, i.type), *qin)
        self.outputs = {}
        for n, o in enumerate(self._session.get_outputs()):
            q = self._recorded_quantisation(card, "outputs", n)
            self.outputs[o.name] = TensorSpec(o.name, o.name, tuple(_dim(d) for d in o.shape),
                                              _DTYPES.get(o.type, o.type), *q)
        if ((card or {}).get("export") or {}).get("quant") == "dynamic":
            # dynamic quantisation picks activation ranges per run: one window per run makes a
            # window's result independent of the others in a batch, as on the device
            self.max_batch = 1
        return card

    @staticmethod
    def _recorded_quantisation(card: Optional[dict], key: str, n: int) -> tuple[float, int]:
        """ONNX Runtime does not expose I/O quantisation; an int8 I/O file records it in its card."""
        entries = ((card or {}).get("export") or {}).get(key) or []
        q = entries[n].get("quantization") if n < len(entries) and isinstance(entries[n], dict) else None
        return (float(q["scale"]), int(q["zero_point"])) if q else (0.0, 0)

    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        spec = self.input
        feed = quantise(x, spec) if spec.quantised else x.astype(spec.dtype, copy=False)
        names = list(self.outputs)
        values = self._session.run([self.outputs[n].name for n in names], {spec.name: feed})
        return {n: dequantise(v, self.outputs[n]) if self.outputs[n].quantised else v.astype(np.float32, copy=False)
                for n, v in zip(names, values)}

    def close(self) -> None:
        self._session = None
