"""Companion models: a second classifier run beside the edge model, on the same stream.

Today the only kind is the paper's clip model (:class:`edge.classify.clip.ClipModel`): two
pose values over the last seconds plus the music's mean log-mel, computed at the model's own
sample rate. ``edgerec run --model A --model paper.tflite`` shows its answer beside the edge
model's in every update (``companions`` in the JSON line, ``| paper: waltz 54%`` in the text),
so the two can be compared live on the same dancer and the same music.

A companion never changes what the edge model shows, nor the recommendations: it is an
observer. It answers from the window it has, and says why when it cannot:

``ok``          probabilities from the last ``window_seconds`` of pose and sound;
``warming_up``  less than :attr:`~edge.classify.clip.PaperWindowConfig.min_seconds` of
                frames see landmarks 0-2 (nose and left eye), or no sound has arrived yet.

Sound that is silent (a muted track, a quiet room) is given to the model as the log-mel of
silence, which is what training gave every clip without a song: the answer is then the
model's pose-only answer, as it learned it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from edge.classify.clip import ClipModel, PaperWindow, live_log_mel_spec
from edge.features.beat import MusicAnalyser, MusicSpec

__all__ = ["CompanionResult", "ClipCompanion", "companion_text"]


@dataclass(frozen=True)
class CompanionResult:
    """A companion model's answer at one update (``to_json`` is its entry in ``companions``)."""

    name: str
    kind: str
    state: str
    style: Optional[str] = None
    confidence: Optional[float] = None
    probs: Optional[dict[str, float]] = None
    #: Whether the sound it heard was silence (so the answer is its pose-only one).
    silent: Optional[bool] = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.name, "kind": self.kind, "state": self.state, "style": self.style,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "probs": None if self.probs is None else {k: round(v, 5) for k, v in self.probs.items()},
                "silent": self.silent}


def companion_text(entry: dict[str, Any]) -> str:
    """A companion's answer as the text line and the overlay show it: ``paper: cha-cha 83%``
    (the model file's name without its suffix), or ``paper: watching...`` before it answers.
    ``entry`` is one item of an update's ``companions`` (:meth:`CompanionResult.to_json`)."""
    name = entry["model"].rsplit(".", 1)[0]
    if entry["state"] == "ok":
        return f"{name}: {entry['style']} {entry['confidence']:.0%}"
    return f"{name}: watching..."


class ClipCompanion:
    """The paper model live: its :class:`PaperWindow` of landmarks 0-2 and, unless the
    runtime's own analyser computes the same log-mel, its own :class:`MusicAnalyser` at the
    model's rate.

    ``window_seconds`` is the span both the pose values and the mean log-mel cover (10 s by
    default: the paper's clips were whole videos; a live answer needs a bounded window).
    """

    kind = "paper-clip"

    def __init__(self, model: ClipModel, main_spec: MusicSpec, window_seconds: float = 10.0):
        self.model = model
        self.name = model.path.name
        self.window = PaperWindow(window_seconds)
        spec = live_log_mel_spec(model, window_seconds)
        #: True when the runtime's analyser computes this model's log-mel (same rate, FFT, hop, bands, span).
        self.shares_main = spec == main_spec
        self.spec = spec
        self.music: Optional[MusicAnalyser] = None
        self.answered = 0
        self.styles: dict[str, int] = {}

    def add_frame(self, t: float, landmarks: Optional[np.ndarray], size: tuple[int, int]) -> None:
        """One frame's unsmoothed landmarks (as training read them from a landmark file)."""
        self.window.add(t, landmarks, size)

    def hear(self, samples: np.ndarray, sample_rate: int, t: Optional[float]) -> None:
        if self.shares_main:
            return
        if self.music is None or self.music.input_rate != int(sample_rate):
            self.music = MusicAnalyser(int(sample_rate), self.spec)
        self.music.push(samples, t)

    def reset(self) -> None:
        self.window.reset()

    def decide(self, t: float, main_music: Optional[Any]) -> CompanionResult:
        """Its answer at media time ``t``; ``main_music`` is the runtime's MusicState (used
        when :attr:`shares_main`)."""
        pose = self.window.pose_values(t)
        state = main_music if self.shares_main else (self.music.analyse(t) if self.music is not None else None)
        if pose is None or state is None:
            return CompanionResult(self.name, self.kind, "warming_up")
        if state.silent or state.mean_log_mel is None:
            mel, silent = self.model.audio_spec.silence(), True
        else:
            mel, silent = state.mean_log_mel, False
        p = self.model(pose, mel)
        probs = dict(zip(self.model.labels, p.tolist()))
        style = max(probs, key=probs.get)
        self.answered += 1
        self.styles[style] = self.styles.get(style, 0) + 1
        return CompanionResult(self.name, self.kind, "ok", style, float(probs[style]), probs, silent)

    def summary(self) -> dict[str, Any]:
        n = self.answered
        return {"model": self.name, "kind": self.kind, "labels": list(self.model.labels),
                "sample_rate": self.spec.sample_rate, "window_seconds": self.window.window_seconds,
                "answered": n, "style_shares": {k: round(v / n, 4) for k, v in sorted(self.styles.items())} if n else {},
                "most_shown_style": max(self.styles, key=self.styles.get) if self.styles else None}

    def close(self) -> None:
        self.model.close()
