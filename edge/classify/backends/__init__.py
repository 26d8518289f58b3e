"""Classifier backends: one interface, one class per runtime, picked by file suffix.

``load_backend("model.int8.tflite")`` reads the embedded card, opens the file once in
the runtime named by :data:`edge.classify.formats.FORMATS` for its suffix, and returns a
:class:`~edge.classify.backends.base.Backend`: call it with a batch of windows to get
``(probs, embedding)``. Use it as a context manager to release the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from edge.classify.backends.base import Backend
from edge.classify.formats import backend_for


def backend_class(name: str) -> type[Backend]:
    """The class registered for a backend name (imports its module; the runtime loads later)."""
    if name == "litert":
        from edge.classify.backends.litert import LiteRTBackend

        return LiteRTBackend
    if name == "onnxruntime":
        from edge.classify.backends.ort import OnnxRuntimeBackend

        return OnnxRuntimeBackend
    raise ValueError(f"unknown backend {name!r}")


def load_backend(path: str | Path, threads: int = 1, providers: Optional[Sequence[str]] = None,
                 card: Optional[dict[str, Any]] = None) -> Backend:
    """Open a converted model file in the backend its suffix calls for.

    ``threads``: intra-op threads of the runtime. ``providers``: ONNX Runtime execution
    providers, best first (ignored for LiteRT files, so a caller can pass the same
    arguments whatever the file). ``card``: use this card instead of the file's own.
    """
    cls = backend_class(backend_for(path))
    kwargs: dict[str, Any] = {"threads": threads, "card": card}
    if providers is not None and cls.name == "onnxruntime":
        kwargs["providers"] = providers
    return cls(path, **kwargs)


__all__ = ["Backend", "backend_class", "load_backend"]
