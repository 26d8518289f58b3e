"""Teaching a style: example clips through the runtime's own pose and window chain, their
windows' embeddings into a style pack (:mod:`edge.classify.packs`).

The examples go through a real :class:`~edge.runtime.loop.Runtime` (smoothing, the window
cut, the "enough of a dancer" test, the still test) with a model that records each
window's embedding instead of deciding, so a taught style is learned from exactly the
windows the runtime will later see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from edge.classify.model import StyleModel
from edge.classify.packs import (Closest, StylePack, UserStyle, closest_styles, learn_style, load_or_new, model_ref,
                                 save_pack)
from edge.core.errors import UserError
from edge.recommend.catalog import Catalog
from edge.runtime.loop import Runtime, RuntimeConfig
from edge.sources.frames import Frame


class _Recorder:
    """The runtime's model interface, recording every window's embedding."""

    def __init__(self, base: StyleModel) -> None:
        self.base, self.labels, self.spec, self.path = base, base.labels, base.spec, base.path
        self.hop_seconds, self.card = base.hop_seconds, base.card
        self.embeddings: list[np.ndarray] = []

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, bool, float]:
        _, emb = self.base.backend(window[None])
        if emb is not None and np.isfinite(emb).all():
            self.embeddings.append(np.asarray(emb[0], np.float64))
        return np.full(len(self.labels), 1.0 / len(self.labels)), True, float("nan")

    def close(self) -> None:
        pass


def window_embeddings(model: StyleModel, frames: Iterable[Frame], pose: Any = None,
                      config: RuntimeConfig = RuntimeConfig()) -> np.ndarray:
    """(N, D) embeddings of the windows the runtime classifies in ``frames``."""
    return _embeddings(model, frames, pose, config)[0]


def _embeddings(model: StyleModel, frames: Iterable[Frame], pose: Any,
                config: RuntimeConfig = RuntimeConfig()) -> tuple[np.ndarray, float]:
    """The embeddings, and the milliseconds the pose stage and the decoding took."""
    rec = _Recorder(model)
    runtime = Runtime(rec, Catalog(songs=()), pose, config)
    for frame in frames:
        runtime.process(frame)
    dim = model.calibration.class_means.shape[1] if model.calibration is not None else 0
    st = runtime.stats.per_frame
    upstream_ms = sum((st[k].mean or 0.0) * st[k].count for k in ("pose", "capture"))
    return (np.vstack(rec.embeddings) if rec.embeddings else np.zeros((0, dim))), upstream_ms


@dataclass(frozen=True)
class Example:
    """One example input: a video, a landmark file, or a camera for some seconds."""

    kind: str  # "video" | "poses" | "camera"
    target: str
    seconds: Optional[float] = None

    @property
    def name(self) -> str:
        return f"camera {self.target}" if self.kind == "camera" else Path(self.target).name


def example_embeddings(model: StyleModel, example: Example, pose_stage: str = "auto", threads: int = 1,
                       fps: Optional[float] = None, size: Optional[tuple[int, int]] = None) -> tuple[np.ndarray, float]:
    """The embeddings of one example's windows, and the seconds spent after pose (the part
    of the cost that teaching adds)."""
    from edge.sources.frames import open_source

    source = open_source(camera=example.target if example.kind == "camera" else None,
                         video=example.target if example.kind == "video" else None,
                         poses=example.target if example.kind == "poses" else None, fps=fps, size=size)
    pose = None
    try:
        if example.kind != "poses":
            from edge.pose import make_pose

            pose = make_pose(pose_stage, threads=threads)
        frames: Iterable[Frame] = source
        if example.seconds is not None:
            frames = _first_seconds(source, example.seconds)
        t0 = time.perf_counter()
        emb, upstream_ms = _embeddings(model, frames, pose)
        spent = max(0.0, time.perf_counter() - t0 - upstream_ms / 1e3)  # what teaching adds after pose
    finally:
        source.close()
        if pose is not None:
            pose.close()
    return emb, spent


def _first_seconds(frames: Iterable[Frame], seconds: float) -> Iterable[Frame]:
    start = None
    for f in frames:
        start = f.t if start is None else start
        if f.t - start > seconds:
            return
        yield f


@dataclass(frozen=True)
class Taught:
    """What ``edgerec styles add`` did."""

    pack: StylePack
    style: UserStyle
    closest: list[Closest]
    replaced: bool
    seconds_after_pose: float
    distance_threshold: float


def teach(name: str, examples: Sequence[Example], model_path: str | Path, pack_path: str | Path,
          music_tags: Sequence[str] = (), songs: Sequence[str] = (), pose_stage: str = "auto", threads: int = 1,
          fps: Optional[float] = None, size: Optional[tuple[int, int]] = None,
          progress: Callable[[str], None] = lambda m: None) -> Taught:
    """Learn style ``name`` from ``examples`` and save it into the pack at ``pack_path``
    (created if missing; checked against the model otherwise); atomic."""
    if not examples:
        raise UserError(repr(name), "no examples given", "pass --video FILE, --poses FILE or --camera")
    model = StyleModel(model_path, threads=threads)
    try:
        ref = model_ref(model)
        pack = load_or_new(pack_path, ref)
        chunks, names, spent = [], [], 0.0
        for i, ex in enumerate(examples, 1):
            emb, s = example_embeddings(model, ex, pose_stage, threads, fps, size)
            progress(f"[{i}/{len(examples)}] {ex.name}: {len(emb)} windows")
            if len(emb):
                chunks.append(emb)
                names.append(ex.name)
            spent += s
        t0 = time.perf_counter()
        style = learn_style(name, np.vstack(chunks) if chunks else np.zeros((0, ref.embedding_dim)), model,
                            names, music_tags, songs)
        replaced = pack.get(style.name) is not None
        pack = pack.with_style(style)
        closest = closest_styles(style, pack, model)
        save_pack(pack, pack_path)
        spent += time.perf_counter() - t0
        return Taught(pack, style, closest, replaced, spent, float(model.calibration.distance_threshold))
    finally:
        model.close()
