"""Scoring a trained model on any folder laid out like ``../shared/data``.

Every clip found is cut into windows with the model's own preprocessing (feature spec,
hop, evaluation camera, all read from the card) and scored at two levels: windows, and
clips (majority vote and mean probability over the clip's windows). Clips whose label the
model does not know are out-of-set: for them the question is whether the model says
"unsure" instead of forcing a known style.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from edge.classify.calibration import Calibration
from edge.features.motion import FeatureSpec
from edge.classify.formats import suffixes as converted_suffixes
from edge.core import jsonio
from edge.core.schema import PoseSequence
from training.card import read_card
from training.metrics import report


@dataclass(frozen=True)
class Loaded:
    """A model ready to score inputs, with its card."""

    path: Path
    card: dict
    predict: Callable[[np.ndarray], tuple[np.ndarray, Optional[np.ndarray]]]
    #: The Keras model behind ``predict``, when there is one.
    model: Any = None


def _load_keras(path: Path, card: dict) -> Loaded:
    from edge.core.optional import require

    keras = require("keras", "train")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - keras raises many kinds for a bad file
        raise ValueError(f"{path}: cannot load this Keras model ({str(exc).splitlines()[0]}); re-train or re-export it") from exc
    return keras_loaded(model, card, path)


def keras_loaded(model: Any, card: dict, path: Path = Path("<memory>")) -> Loaded:
    """Wrap an in-memory Keras classifier (used by cross-validation, which saves no files)."""
    from training.models import two_head

    heads = two_head(model)

    def run(x: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        if len(x) == 0:
            return np.zeros((0, len(card["labels"]))), None
        emb, probs = heads.predict(x, batch_size=256, verbose=0)
        return np.asarray(probs, np.float64), np.asarray(emb, np.float64)

    return Loaded(path, card, run, model)


def baseline_loaded(model: Any, card: dict, path: Path = Path("<memory>")) -> Loaded:
    return Loaded(path, card, lambda x: (model.predict_proba(x), None))


def _load_baseline(path: Path, card: dict) -> Loaded:
    from training.baseline import BaselineModel

    return baseline_loaded(BaselineModel.load(path), card, path)


def _load_converted(path: Path, card: dict) -> Loaded:
    """A .tflite/.onnx file in its edge backend (the one the device uses); the card is the file's own."""
    from edge.classify.backends import load_backend

    backend = load_backend(path, card=card)

    def run(x: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        probs, emb = backend(x)
        return np.asarray(probs, np.float64), None if emb is None else np.asarray(emb, np.float64)

    return Loaded(path, card, run)


#: Model file suffix -> loader. Converted formats (.tflite, .onnx) join this table.
LOADERS: dict[str, Callable[[Path, dict], Loaded]] = {
    ".keras": _load_keras,
    ".json": _load_baseline,
    # converted formats: every suffix of edge.classify.formats.FORMATS, run in its edge backend
    **{suffix: _load_converted for suffix in converted_suffixes()},
}


def load_model(path: str | Path) -> Loaded:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: model file not found; train one with `edgerec train` or pass an existing file")
    loader = LOADERS.get(path.suffix)
    if loader is None:
        raise ValueError(f"{path}: unknown model format {path.suffix!r}; expected one of {', '.join(LOADERS)}")
    if path.suffix in converted_suffixes():
        from edge.classify.metadata import read_card as read_model_card  # embedded card, else the sidecar

        return loader(path, read_model_card(path))
    return loader(path, read_card(path))


def clip_inputs(card: dict, seqs: Sequence[PoseSequence]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, clip index per input) using the preprocessing the card describes."""
    if card["preprocessing"] == "paper-clip":
        from training.paper import clip_vectors

        return clip_vectors(seqs), np.arange(len(seqs))
    from training.augment import card_camera, clip_windows

    spec = FeatureSpec.from_dict(card["feature_spec"])
    camera = card_camera(card)
    xs, cs = [], []
    for i, s in enumerate(seqs):
        w = clip_windows(s, spec, float(card["hop_seconds"]), camera)
        xs.append(w)
        cs.append(np.full(len(w), i))
    x = np.concatenate(xs) if xs else np.zeros((0, spec.window_frames, spec.num_channels), np.float32)
    return x, np.concatenate(cs).astype(int) if cs else np.zeros(0, int)


def evaluate_loaded(model: str | Path | Loaded, seqs: Sequence[PoseSequence],
                    inputs: Optional[tuple[np.ndarray, np.ndarray]] = None) -> dict[str, Any]:
    """Score ``seqs`` with a model (path or :class:`Loaded`); see the module doc for levels.

    ``inputs`` (model inputs and the clip index of each) may be passed when several models
    with the same preprocessing score the same clips, to cut the windows once.
    """
    started = time.time()
    loaded = model if isinstance(model, Loaded) else load_model(model)
    labels = list(loaded.card["labels"])
    index = {n: i for i, n in enumerate(labels)}
    x, clip = inputs if inputs is not None else clip_inputs(loaded.card, seqs)
    probs, emb = loaded.predict(x)
    calib = loaded.card.get("calibration")
    if calib and emb is not None:
        assessment = Calibration.from_dict(calib).assess(probs, emb)
        probs, unsure, distance = assessment.probs, assessment.unsure, assessment.distance
    else:
        unsure, distance = np.zeros(len(probs), bool), np.full(len(probs), np.nan)
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    y_clip = np.array([index.get(s.label, -1) for s in seqs])
    y_win = y_clip[clip] if len(clip) else np.zeros(0, int)
    inset_w = y_win >= 0
    per_clip = []
    maj, mean_pred = np.full(len(seqs), -1), np.full(len(seqs), -1)
    for i, s in enumerate(seqs):
        sel = clip == i
        entry: dict[str, Any] = {"clip": s.clip_id, "label": s.label, "windows": int(sel.sum())}
        if sel.any():
            votes = np.bincount(pred[sel], minlength=len(labels))
            maj[i] = int(votes.argmax())
            mean_pred[i] = int(probs[sel].mean(axis=0).argmax())
            entry.update(majority=labels[maj[i]], mean_prob=labels[mean_pred[i]],
                         mean_confidence=float(probs[sel].max(axis=1).mean()),
                         unsure_fraction=float(unsure[sel].mean()), in_set=bool(y_clip[i] >= 0))
            if np.isfinite(distance[sel]).any():
                entry["median_distance"] = float(np.median(distance[sel]))
        per_clip.append(entry)
    scored = (y_clip >= 0) & (maj >= 0)
    result: dict[str, Any] = {
        "model": str(loaded.path),
        "predictions": {"clip": clip.tolist(), "pred": pred.tolist(), "unsure": unsure.tolist(),
                        "max_prob": np.round(probs.max(axis=1), 4).tolist() if len(probs) else []},
        "arch": loaded.card.get("arch"),
        "labels": labels,
        "clips": len(seqs),
        "clips_scored": int(scored.sum()),
        "windows": int(inset_w.sum()),
        "window": report(y_win[inset_w], pred[inset_w], labels) if inset_w.any() else None,
        "clip_majority": report(y_clip[scored], maj[scored], labels) if scored.any() else None,
        "clip_mean": report(y_clip[scored], mean_pred[scored], labels) if scored.any() else None,
    }
    if calib and emb is not None:
        out_w = y_win < 0
        accepted = inset_w & ~unsure
        result["unsure"] = {
            "in_set_windows_unsure": float(unsure[inset_w].mean()) if inset_w.any() else None,
            "in_set_accuracy_when_sure": float((pred[accepted] == y_win[accepted]).mean()) if accepted.any() else None,
            "out_of_set_windows_unsure": float(unsure[out_w].mean()) if out_w.any() else None,
            "out_of_set_clips_mostly_unsure": int(sum(1 for c in per_clip if c.get("in_set") is False
                                                      and c.get("unsure_fraction", 0) >= 0.5)),
            "out_of_set_clips": int(sum(1 for c in per_clip if c.get("in_set") is False)),
            "out_of_set_windows_confident_wrong": float((~unsure[out_w] & (probs[out_w].max(axis=1) > 0.85)).mean())
            if out_w.any() else None,
        }
    result["per_clip"] = per_clip
    result["seconds"] = round(time.time() - started, 2)
    return result


def evaluate(model_path: str | Path, data_dir: str | Path, sources: Optional[Sequence[str]] = None,
             progress: bool = False) -> dict[str, Any]:
    """Score every clip under ``data_dir`` (any folder laid out like ``../shared/data``)."""
    from training import datasets

    loaded = load_model(model_path)
    seqs = datasets.load_all(data_dir, tuple(sources) if sources else None, progress=progress)
    if not seqs:
        raise ValueError(f"{data_dir}: no clips found; point it at a folder laid out like ../shared/data")
    result = evaluate_loaded(loaded, seqs)
    result["data"] = str(data_dir)
    return result


def to_json(result: dict) -> str:
    return jsonio.dumps(result, indent=1)
