"""The interface every classifier backend implements, and the checks they share.

A backend opens one converted model file once (``__init__``), checks it against its card,
and is then called per batch of windows::

    with load_backend("edge.int8.tflite", threads=2) as model:
        probs, embedding = model(windows)      # windows: (N, frames, channels) float32

Inputs are always float32 in the units the card describes (the Keras model's inputs);
a backend quantises them at the boundary when the file takes int8, and dequantises int8
outputs, so callers never see the file's number format. Models exported by edgerec have
two outputs, ``embedding`` (for recommendations and the "unsure" distance) and ``probs``;
backends find them by name (and record which tensor is which in ``outputs``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np

from edge.classify.formats import format_named
from edge.classify.integrity import verify_weights
from edge.classify.metadata import export_info, read_sidecar, sidecar_path

#: Output names of an edgerec export, in the order they are recorded in the card.
OUTPUT_NAMES = ("embedding", "probs")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of a model file.

    ``shape`` is the full shape with the batch axis (``None`` where dynamic); ``scale`` and
    ``zero_point`` are set for quantised (int8/uint8) tensors: real = scale * (q - zero_point).
    """

    name: str
    index: Any
    shape: tuple[Optional[int], ...]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantised(self) -> bool:
        return self.dtype in ("int8", "uint8") and self.scale > 0

    def to_dict(self, role: Optional[str] = None) -> dict[str, Any]:
        """As recorded in a card: ``name`` is the role (``probs``...), ``tensor`` the file's name."""
        d: dict[str, Any] = {"name": role or self.name, "tensor": self.name, "shape": list(self.shape),
                             "dtype": self.dtype}
        if self.quantised:
            d["quantization"] = {"scale": self.scale, "zero_point": self.zero_point}
        return d


def quantise(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """float -> the integer type of ``spec`` (round to nearest, saturate)."""
    info = np.iinfo(spec.dtype)
    q = np.round(x / spec.scale) + spec.zero_point
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantise(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    return ((q.astype(np.float32) - np.float32(spec.zero_point)) * np.float32(spec.scale)).astype(np.float32)


class Backend(ABC):
    """Base class: open once, check against the card, call per batch, close.

    Subclasses implement :meth:`_open` (load the file, fill ``self.input`` and
    ``self.outputs``, return the embedded card or None) and :meth:`_run_batch`.
    """

    #: Backend name as in :data:`edge.classify.formats.BACKENDS`.
    name: ClassVar[str] = ""
    #: File suffix this backend runs.
    suffix: ClassVar[str] = ""
    #: Largest batch run at once when the file's batch is dynamic.
    max_batch: int = 256
    #: (mean, std) the inputs are standardised with before the model, from the card (or None).
    _transform: Optional[tuple[np.ndarray, np.ndarray]] = None

    def __init__(self, path: str | Path, threads: int = 1, card: Optional[dict[str, Any]] = None):
        self.path = Path(path)
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = int(threads)
        if not self.path.is_file():
            raise ValueError(f"{self.path}: model file not found")
        if self.path.stat().st_size == 0:
            raise ValueError(f"{self.path}: empty file")
        if self.path.suffix.lower() != self.suffix:
            raise ValueError(f"{self.path}: the {self.name} backend runs {self.suffix} files")
        self.input: TensorSpec
        self.outputs: dict[str, TensorSpec] = {}
        embedded = self._open()
        self.card_source = "argument" if card is not None else "embedded" if embedded is not None else "sidecar"
        self.card = card if card is not None else embedded if embedded is not None else read_sidecar(self.path)
        if self.card is None:
            self.close()
            raise ValueError(f"{self.path}: no edgerec model card inside it or beside it "
                             f"({sidecar_path(self.path).name}); convert it with `edgerec convert`")
        try:
            self.weights_verified = verify_weights(self.path, self.card)
            self._check()
        except ValueError:
            self.close()
            raise

    # -------------------------------------------------------------- subclass hooks

    @abstractmethod
    def _open(self) -> Optional[dict[str, Any]]:
        """Load the file; set ``self.input`` and ``self.outputs``; return the embedded card."""

    @abstractmethod
    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run a float32 batch of exactly the file's batch size (or any size if dynamic)."""

    def close(self) -> None:
        """Release the runtime (idempotent)."""

    # -------------------------------------------------------------- the interface

    @property
    def labels(self) -> list[str]:
        return list(self.card["labels"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-window input shape (without the batch axis)."""
        return tuple(int(d) for d in self.input.shape[1:])  # type: ignore[arg-type]

    @property
    def batch(self) -> Optional[int]:
        """Fixed batch size of the file, or None if dynamic."""
        return self.input.shape[0]

    @property
    def format(self) -> Optional[str]:
        return export_info(self.card).get("format")

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """(probs (N, K), embedding (N, D)) for windows ``x`` (N, ...) or one window."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape == self.input_shape:
            x = x[None]
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"{self.path}: inputs of shape {tuple(x.shape[1:])} given, "
                             f"the model takes {self.input_shape}")
        k = len(self.labels)
        if self._transform is not None:
            x = ((x - self._transform[0]) / self._transform[1]).astype(np.float32)
        if len(x) == 0:
            emb = self.outputs.get("embedding")
            return np.zeros((0, k), np.float32), (np.zeros((0, emb.shape[-1] or 0), np.float32) if emb else None)
        step = self.batch or self.max_batch
        parts: dict[str, list[np.ndarray]] = {n: [] for n in self.outputs}
        for start in range(0, len(x), step):
            chunk = x[start:start + step]
            n = len(chunk)
            if self.batch and n < self.batch:  # pad the last chunk of a fixed-batch file
                chunk = np.concatenate([chunk, np.zeros((self.batch - n,) + chunk.shape[1:], np.float32)])
            out = self._run_batch(chunk)
            for name, value in out.items():
                parts[name].append(value[:n])
        probs = np.concatenate(parts["probs"]).astype(np.float32)
        emb = np.concatenate(parts["embedding"]).astype(np.float32) if "embedding" in parts else None
        return probs, emb

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, threads={self.threads}, format={self.format!r})"

    def describe(self) -> dict[str, Any]:
        """Input and output tensors as the card's ``export`` section records them."""
        return {"inputs": [self.input.to_dict("features")],
                "outputs": [self.outputs[n].to_dict(n) for n in OUTPUT_NAMES if n in self.outputs]}

    # -------------------------------------------------------------- checks

    def _identify_outputs(self, found: dict[str, TensorSpec]) -> dict[str, TensorSpec]:
        """Map the file's outputs to ``embedding``/``probs``: by name, else by the card, else by size."""
        if "probs" in found:
            return {n: found[n] for n in OUTPUT_NAMES if n in found}
        recorded = export_info(self.card or {}).get("outputs") or []
        by_tensor = {s.name: s for s in found.values()}
        mapped = {}
        for entry, name in zip(recorded, OUTPUT_NAMES):
            tensor = entry.get("tensor") if isinstance(entry, dict) else None
            if tensor in by_tensor:
                mapped[entry.get("name", name)] = by_tensor[tensor]
        if "probs" in mapped:
            return mapped
        k = len((self.card or {}).get("labels", []))
        specs = list(found.values())
        if len(specs) == 1:
            return {"probs": specs[0]}
        if len(specs) == 2 and k and sum(s.shape[-1] == k for s in specs) == 1:
            probs = next(s for s in specs if s.shape[-1] == k)
            return {"probs": probs, "embedding": next(s for s in specs if s is not probs)}
        raise ValueError(f"{self.path}: cannot tell which output holds the probabilities "
                         f"({', '.join(s.name for s in specs)}); re-convert it with `edgerec convert`")

    def _check(self) -> None:
        """Check the card against this edgerec and against the file; one-line errors."""
        from edge.features.motion import FEATURE_VERSION, READABLE_VERSIONS

        card, where = self.card, self.path
        labels = card.get("labels")
        if not isinstance(labels, list) or len(labels) < 2:
            raise ValueError(f"{where}: its card lists no labels")
        spec = card.get("feature_spec")
        if isinstance(spec, dict) and spec.get("version", FEATURE_VERSION) not in READABLE_VERSIONS:
            raise ValueError(f"{where}: its card says feature version {spec.get('version')}, this edgerec "
                             f"computes version {', '.join(map(str, READABLE_VERSIONS))}; use a model "
                             "converted for this version")
        name = export_info(card).get("format")
        if name is not None:
            try:
                fmt = format_named(name)
            except ValueError:
                raise ValueError(f"{where}: its card names an unknown format {name!r}") from None
            if fmt.suffix != self.suffix:
                raise ValueError(f"{where}: its card says format {name} ({fmt.suffix} file), "
                                 f"but this is a {self.suffix} file")
        self.outputs = self._identify_outputs(self.outputs)
        self._transform = None
        transform = export_info(card).get("input_transform")
        if transform:
            if transform.get("kind") != "standardise":
                raise ValueError(f"{where}: its card asks for an unknown input transform {transform.get('kind')!r}")
            mean = np.asarray(transform["mean"], np.float32)
            std = np.asarray(transform["std"], np.float32)
            if mean.shape != (self.input_shape[-1],) or std.shape != mean.shape or not np.all(std > 0):
                raise ValueError(f"{where}: its card's input standardisation does not fit the input "
                                 f"{self.input_shape}")
            self._transform = (mean, std)
        want = (card.get("input") or {}).get("shape")
        if want is not None and tuple(int(d) for d in want[1:]) != self.input_shape:
            raise ValueError(f"{where}: the file's input shape {self.input_shape} does not match its card "
                             f"{tuple(want[1:])}")
        k = self.outputs["probs"].shape[-1]
        if k is not None and k != len(labels):
            raise ValueError(f"{where}: the model has {k} outputs but its card lists {len(labels)} labels")
