"""A converted classifier as the runtime drives it: one feature window in, calibrated
style probabilities and the "unsure" decision out.

The model file describes itself (its card: labels, feature spec, calibration), so the
runtime needs nothing but the path; anything that stops a file from driving a live pose
stream is a :class:`ModelError` whose message names the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from edge.classify.calibration import Calibration
from edge.features.motion import FeatureSpec


class ModelError(ValueError):
    """The model file cannot drive the runtime; the message names the fix."""


def open_backend(path: str | Path, threads: int, fix_missing: str) -> tuple[Path, Any]:
    """(path, backend): a model file opened by the backend its suffix names. A missing file
    is a :class:`ModelError` ending in ``fix_missing``; a damaged one, the backend's one-line
    error as a ModelError. Shared by every kind of model the runtime opens."""
    from edge.classify.backends import load_backend

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found; {fix_missing}")
    try:
        return path, load_backend(path, threads=threads)
    except ValueError as exc:
        raise ModelError(str(exc)) from None


class StyleModel:
    """A converted classifier (``.tflite`` / ``.onnx``) with its card's spec and calibration."""

    def __init__(self, path: str | Path, threads: int = 1):
        path, self.backend = open_backend(path, threads, "pass --model FILE.tflite|FILE.onnx "
                                                         "or leave it out to use the shipped default")
        card = self.backend.card
        self.path = path
        self.card = card
        if card.get("preprocessing") != "windows":
            self.backend.close()
            raise ModelError(f"{path}: a {card.get('arch', '?')!r} model classifies whole clips with "
                             "their audio, not a live pose stream; use an edge/paper window model")
        try:
            self.spec = FeatureSpec.from_dict(card["feature_spec"])
        except (KeyError, TypeError, ValueError) as exc:
            self.backend.close()
            raise ModelError(f"{path}: {exc}") from None
        try:
            calib = card.get("calibration")
            self.calibration = Calibration.from_dict(calib) if calib else None
            labels = card["labels"]
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                raise ValueError("the card's labels must be a non-empty list of style names")
        except (KeyError, ValueError) as exc:
            self.backend.close()
            raise ModelError(f"{path}: {exc}; re-convert the model (edgerec convert)") from None
        self.labels: list[str] = list(labels)
        #: Windows whose output was not finite (shown as unsure, never as a style).
        self.non_finite = 0
        self.hop_seconds = float(card.get("hop_seconds", 1.0))

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, bool, float]:
        """(calibrated probabilities (K,), unsure, distance) for one (N, C) window.

        Non-finite outputs (a damaged model, or a window the runtime could not compute) are
        never a style: they come back as uniform probabilities marked unsure, and are counted
        in :attr:`non_finite`.
        """
        return self.decide(*self.backend(window[None]))

    def decide(self, probs: np.ndarray, emb: Optional[np.ndarray]) -> tuple[np.ndarray, bool, float]:
        """:meth:`__call__` from the backend's outputs for one window (``probs`` (1, K),
        ``emb`` (1, D) or None), for callers that already ran the backend."""
        if self.calibration is not None and emb is not None:
            a = self.calibration.assess(probs, emb)
            p, unsure, distance = a.probs[0], bool(a.unsure[0]), float(a.distance[0])
        else:
            p, unsure, distance = probs[0].astype(np.float64), False, float("nan")
        if not np.isfinite(p).all() or abs(float(p.sum()) - 1.0) > 1e-3:
            self.non_finite += 1
            return np.full(len(self.labels), 1.0 / len(self.labels)), True, float("nan")
        return p, unsure, distance

    def close(self) -> None:
        self.backend.close()
