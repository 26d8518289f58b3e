"""The paper's clip model, live: two pose values and the music's mean log-mel in, style
probabilities out.

The paper model (``paper``, ``paper-lstm-bigru``, ``paper-lstm-gru``; card
``preprocessing="paper-clip"``) classifies one 130-value vector,
:func:`edge.features.motion.paper_vector` of

* the two pose values, :func:`edge.features.motion.paper_pose_features` of landmarks 0-2
  (nose, left inner eye, left eye) in image coordinates divided by the image height, over
  the frames where all three are seen; and
* the mean log-mel spectrum (128 bands) of the sound track, at the song's native sample
  rate (24 kHz for the Music-to-Dance songs it was trained on), n_fft 2048, hop 512.

Training computes both over a whole clip (``training.paper``). Live, they come from the last
few seconds of the stream: :class:`PaperWindow` keeps the last :attr:`PaperWindowConfig.
window_seconds` of landmarks 0-2 and computes the pose values exactly as training does for a
camera clip, and a :class:`edge.features.beat.MusicAnalyser` made with
:func:`live_log_mel_spec` gives the mean log-mel over the same span at the rate the model
was trained at (which can differ from the main analyser's 22,050 Hz: the log-mel of a song
depends on the rate, as its mel bands cover 0 .. rate/2).

:class:`ClipModel` runs a converted paper model; :func:`is_clip_model` tells the runtime,
from a model file's card alone, whether to drive it with :class:`ClipModel` or with
:class:`edge.classify.model.StyleModel`.

numpy only: the runtimes are imported by the backends when a model is opened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from edge.classify.model import ModelError, open_backend
from edge.features.beat import MusicSpec
from edge.features.motion import paper_pose_features, paper_vector

__all__ = [
    "PREPROCESSING", "INPUT_SHAPE", "ASSUMED_AUDIO", "VISIBILITY_THRESHOLD", "PaperAudioSpec", "ClipModel",
    "is_clip_model", "PaperWindowConfig", "PaperWindow", "live_log_mel_spec",
]

#: The card's ``preprocessing`` value of a clip model.
PREPROCESSING = "paper-clip"
#: Per-clip input of every paper model (without the batch axis): 2 pose values + 128 mel bands.
INPUT_SHAPE = (130, 1)
#: Pose values in the input vector (the rest is the mean log-mel).
POSE_VALUES = 2
#: How training computed the audio feature before cards recorded it (``training.paper.
#: PAPER_AUDIO``; equal, the tests check): a card without ``audio`` is assumed to mean this.
ASSUMED_AUDIO: dict[str, Any] = {
    "sample_rate": 24000,
    "n_fft": 2048,
    "hop_length": 512,
    "n_mels": 128,
    "silence_db": -100.0,
    "source": "the song's native rate (Music-to-Dance: 24 kHz)",
}
#: A landmark is seen when its visibility is at least this (as in recorded landmark files,
#: ``edge.sources.posefile.VISIBILITY_THRESHOLD``, which training read its camera clips with).
VISIBILITY_THRESHOLD = 0.5
#: Landmarks the pose values come from (MediaPipe order: nose, left_eye_inner, left_eye).
PAPER_LANDMARKS = (0, 1, 2)

_RETRAIN = "re-train it with `edgerec train --arch paper` and convert it (edgerec convert)"


# ------------------------------------------------------------------ the audio spec


@dataclass(frozen=True)
class PaperAudioSpec:
    """How the model's audio feature was computed: the card's ``audio`` section.

    ``silence_db`` is the level of every band for a clip without sound (training gave clips
    without a song the log-mel of silence); ``source`` says in words where the rate came from.
    """

    sample_rate: int = ASSUMED_AUDIO["sample_rate"]
    n_fft: int = ASSUMED_AUDIO["n_fft"]
    hop_length: int = ASSUMED_AUDIO["hop_length"]
    n_mels: int = ASSUMED_AUDIO["n_mels"]
    silence_db: float = ASSUMED_AUDIO["silence_db"]
    source: str = ASSUMED_AUDIO["source"]

    @classmethod
    def from_dict(cls, d: Any) -> "PaperAudioSpec":
        """From a card's ``audio`` section; a ValueError naming the bad field otherwise.
        Keys other than the fields (``songs``, ``sample_rates``) are kept only in the card."""
        if not isinstance(d, dict):
            raise ValueError(f"the card's audio section must be an object, got {type(d).__name__}")
        values: dict[str, Any] = {}
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            v = d.get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v != int(v) or not 0 < v <= 10_000_000:
                raise ValueError(f"the card's audio {name} must be a positive whole number, got {v!r:.40}")
            values[name] = int(v)
        silence = d.get("silence_db", ASSUMED_AUDIO["silence_db"])
        if isinstance(silence, bool) or not isinstance(silence, (int, float)) or not math.isfinite(silence):
            raise ValueError(f"the card's audio silence_db must be a finite number, got {silence!r:.40}")
        if values["hop_length"] > values["n_fft"]:
            raise ValueError(f"the card's audio hop_length {values['hop_length']} is longer than its "
                             f"n_fft {values['n_fft']}")
        source = d.get("source", "")
        return cls(silence_db=float(silence), source=source if isinstance(source, str) else str(source), **values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def silence(self) -> np.ndarray:
        """The mean log-mel training gave a clip without sound, (n_mels,) float32: the input
        for a run with no audio source, as for the clips without a song it learned from."""
        return np.full(self.n_mels, self.silence_db, np.float32)


def live_log_mel_spec(model: Union["ClipModel", PaperAudioSpec], seconds: float = 10.0) -> MusicSpec:
    """The :class:`MusicSpec` of an analyser whose ``mean_log_mel`` is the model's audio
    feature: the model's sample rate, n_fft, hop and mel bands, averaged over ``seconds``
    (default 10 s, the span :class:`PaperWindow` keeps by default). The other fields are
    :class:`MusicSpec`'s defaults, so the same analyser also follows tempo and beats.

    The runtime runs a second :class:`~edge.features.beat.MusicAnalyser` with it when the
    model's rate differs from the main analyser's (the analyser resamples its input)."""
    spec = model.audio_spec if isinstance(model, ClipModel) else model
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    return MusicSpec(sample_rate=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
                     n_mels=spec.n_mels, log_mel_seconds=float(seconds))


# ------------------------------------------------------------------ the model


def is_clip_model(path: str | Path) -> bool:
    """Whether the model file's card says it is a clip model (``preprocessing="paper-clip"``).

    Reads only the card, the way the backends find it (embedded in the ``.tflite`` /
    ``.onnx`` file, else the ``NAME.card.json`` sidecar). A file whose card cannot be read
    is not a clip model here: open it with :class:`~edge.classify.model.StyleModel`, which
    says what is wrong with it.
    """
    from edge.classify.metadata import read_card

    try:
        return read_card(path).get("preprocessing") == PREPROCESSING
    except ValueError:  # UserError included: missing, not a regular file, no or damaged card
        return False


class ClipModel:
    """A converted paper model (``.tflite`` / ``.onnx``): two pose values and a mean
    log-mel in, style probabilities out.

    Attributes: ``labels``, ``card``, ``audio_spec`` (how its audio feature was computed,
    from the card's ``audio`` section) and ``audio_spec_assumed`` (True when the card
    predates that section and :data:`ASSUMED_AUDIO` is used), ``non_finite`` (calls whose
    output was not a probability vector). Anything that stops the file from classifying
    clips is a :class:`ModelError` whose one-line message names the fix.
    """

    def __init__(self, path: str | Path, threads: int = 1):
        path, self.backend = open_backend(path, threads, "pass a converted paper model (FILE.tflite|FILE.onnx "
                                                         "from `edgerec convert` of an `--arch paper` model)")
        self.path = path
        self.card: dict[str, Any] = self.backend.card
        try:
            self._check()
        except ModelError:
            self.backend.close()
            raise
        self.labels: list[str] = list(self.card["labels"])
        #: Calls whose output was not finite probabilities (answered as uniform, never a style).
        self.non_finite = 0

    def _check(self) -> None:
        card, path = self.card, self.path
        if card.get("preprocessing") != PREPROCESSING:
            raise ModelError(f"{path}: not a paper-clip model (its card says preprocessing "
                             f"{card.get('preprocessing')!r}, arch {card.get('arch', '?')!r}: it classifies "
                             "live pose windows); open it with StyleModel, or pass a converted paper model")
        if self.backend.input_shape != INPUT_SHAPE:
            raise ModelError(f"{path}: takes inputs of shape {self.backend.input_shape}, a paper-clip model "
                             f"takes {INPUT_SHAPE} (2 pose values + 128 mel bands); {_RETRAIN}")
        raw = card.get("audio")
        #: True when the card has no ``audio`` section and :data:`ASSUMED_AUDIO` is assumed.
        self.audio_spec_assumed = raw is None
        try:
            self.audio_spec = PaperAudioSpec.from_dict(ASSUMED_AUDIO if raw is None else raw)
        except ValueError as exc:
            raise ModelError(f"{path}: {exc}; {_RETRAIN}") from None
        if POSE_VALUES + self.audio_spec.n_mels != INPUT_SHAPE[0]:
            raise ModelError(f"{path}: its card says {self.audio_spec.n_mels} mel bands, the input has room "
                             f"for {INPUT_SHAPE[0] - POSE_VALUES}; {_RETRAIN}")

    def vector(self, pose_values: np.ndarray, mean_log_mel: np.ndarray) -> np.ndarray:
        """The (130, 1) float32 input for one clip (what training's ``clip_vectors`` row is)."""
        pose = np.asarray(pose_values, np.float32)
        mel = np.asarray(mean_log_mel, np.float32)
        if pose.shape != (POSE_VALUES,):
            raise ValueError(f"pose_values must have shape ({POSE_VALUES},), got {pose.shape}")
        if mel.shape != (self.audio_spec.n_mels,):
            raise ValueError(f"mean_log_mel must have shape ({self.audio_spec.n_mels},), got {mel.shape}")
        return paper_vector(pose, mel)[:, None]

    def __call__(self, pose_values: np.ndarray, mean_log_mel: np.ndarray) -> np.ndarray:
        """Probabilities (K,) float64 for one clip's pose values (2,) and mean log-mel (n_mels,).

        A non-finite output (a damaged model) is never a style: it comes back as uniform
        probabilities and is counted in :attr:`non_finite`, as
        :class:`~edge.classify.model.StyleModel` does. Non-finite inputs (features the caller
        could not compute) are answered the same way without running the model: a runtime
        does not always propagate NaN (ONNX Runtime turned a NaN pose value of a paper model
        into finite, near-uniform probabilities in the tests).
        """
        x = self.vector(pose_values, mean_log_mel)
        if not np.isfinite(x).all():
            self.non_finite += 1
            return np.full(len(self.labels), 1.0 / len(self.labels))
        probs, _ = self.backend(x[None])
        p = probs[0].astype(np.float64)
        if not np.isfinite(p).all() or abs(float(p.sum()) - 1.0) > 1e-3:
            self.non_finite += 1
            return np.full(len(self.labels), 1.0 / len(self.labels))
        return p

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "ClipModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ClipModel({str(self.path)!r}, labels={self.labels}, sample_rate={self.audio_spec.sample_rate})"


# ------------------------------------------------------------------ the live pose values


@dataclass(frozen=True)
class PaperWindowConfig:
    """What :class:`PaperWindow` keeps.

    ``window_seconds``: the span the pose values average over (the music's mean log-mel
    spans the same by default). ``min_seconds``: less than this much of frames with all three
    landmarks gives no values. ``max_fps``: the buffer holds ``window_seconds * max_fps``
    frames; a faster stream keeps only that many (its window is then shorter).
    """

    window_seconds: float = 10.0
    min_seconds: float = 1.0
    max_fps: float = 120.0
    visibility_threshold: float = VISIBILITY_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("window_seconds", "max_fps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not (math.isfinite(self.min_seconds) and 0 <= self.min_seconds <= self.window_seconds):
            raise ValueError(f"min_seconds must be in [0, window_seconds], got {self.min_seconds!r}")

    @property
    def capacity(self) -> int:
        return int(math.ceil(self.window_seconds * self.max_fps)) + 1


class PaperWindow:
    """The paper's two pose values over the last seconds of a live pose stream.

    :meth:`add` one frame's MediaPipe landmarks ((33, 4) normalised x, y, z, visibility, or
    None when no person was found) and the frame's (width, height); :meth:`pose_values`
    gives :func:`~edge.features.motion.paper_pose_features` of landmarks 0-2 over the frames
    of the last ``window_seconds``, computed as ``training.paper.clip_pose_values`` computes
    them for a camera clip: pixel coordinates (rounded to float32, as a recorded landmark
    file holds them) divided by the image height, a landmark seen when its x, y and
    visibility are finite and the visibility is at least 0.5, and only frames with all three
    seen averaged. Given the unsmoothed landmarks of every frame of a clip, and a window
    covering it, the values equal training's for that clip.

    One difference stays: training takes the first three landmarks its clip ever saw, which
    for a camera clip is 0-2 unless one of them was never seen in the whole clip; live, it is
    always 0-2 (a stream has no "whole clip" to look ahead in).

    Memory is a fixed ring of :attr:`PaperWindowConfig.capacity` frames. A timestamp that
    goes back (a seek, a looped file) starts afresh; a repeated one is ignored.
    """

    def __init__(self, window_seconds: float = 10.0, *, min_seconds: float = 1.0, max_fps: float = 120.0,
                 visibility_threshold: float = VISIBILITY_THRESHOLD):
        self.config = PaperWindowConfig(float(window_seconds), float(min_seconds), float(max_fps),
                                        float(visibility_threshold))
        cap = self.config.capacity
        self._t = np.zeros(cap, np.float64)
        self._xy = np.zeros((cap, len(PAPER_LANDMARKS), 2), np.float64)
        self._ok = np.zeros((cap, len(PAPER_LANDMARKS)), bool)
        self.reset()

    @property
    def window_seconds(self) -> float:
        return self.config.window_seconds

    def reset(self) -> None:
        """Forget every frame (a new dancer, a seek)."""
        self._next = 0  # ring index the next frame goes to
        self._n = 0  # frames held
        self._last_t: Optional[float] = None

    def __len__(self) -> int:
        return self._n

    def add(self, t: float, landmarks: Optional[np.ndarray], size: tuple[int, int]) -> None:
        """Add the frame at media time ``t`` (seconds): its landmarks ((33, 4) as MediaPipe
        gives them, or None) in a frame of ``size`` = (width, height) pixels."""
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"frame time must be finite, got {t!r}")
        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            raise ValueError(f"frame size must be positive (width, height), got {tuple(size)!r}")
        if self._last_t is not None:
            if t == self._last_t:
                return
            if t < self._last_t:
                self.reset()
        k = len(PAPER_LANDMARKS)
        if landmarks is None:
            xy, ok = np.zeros((k, 2)), np.zeros(k, bool)
        else:
            lm = np.asarray(landmarks)
            if lm.ndim != 2 or lm.shape[0] <= max(PAPER_LANDMARKS) or lm.shape[1] < 4:
                raise ValueError(f"landmarks must be (33, 4) normalised x, y, z, visibility, got {lm.shape}")
            rows = lm[list(PAPER_LANDMARKS)]
            vis = rows[:, 3].astype(np.float64)
            ok = np.isfinite(rows[:, :2]).all(axis=1) & np.isfinite(vis) & (vis >= self.config.visibility_threshold)
            # pixels in float32, as a landmark file loaded for training holds them, then / height
            px = np.where(ok[:, None], rows[:, :2].astype(np.float32), np.float32(0)) \
                * np.array([w, h], np.float32)
            xy = px.astype(np.float64) / h
        i = self._next
        self._t[i], self._xy[i], self._ok[i] = t, xy, ok
        self._next = (i + 1) % len(self._t)
        self._n = min(self._n + 1, len(self._t))
        self._last_t = t
        # drop what has left the window (oldest first)
        while self._n and self._t[(self._next - self._n) % len(self._t)] <= t - self.config.window_seconds:
            self._n -= 1

    def _span(self, t: float) -> np.ndarray:
        """Ring indices, oldest first, of the frames in the window ending at ``t``."""
        idx = (self._next - self._n + np.arange(self._n)) % len(self._t)
        times = self._t[idx]
        return idx[(times > t - self.config.window_seconds) & (times <= t)]

    def pose_values(self, t: Optional[float] = None) -> Optional[np.ndarray]:
        """The two pose values (float32 (2,): mean distance landmark 0-1, mean angle at 1)
        over the window ending at ``t`` (default: the last frame added), or None while fewer
        than ``min_seconds`` of its frames have all three landmarks."""
        if self._n == 0:
            return None
        t = self._last_t if t is None else float(t)
        idx = self._span(t)
        if len(idx) < 2:
            return None
        ok = self._ok[idx]
        complete = int(ok.all(axis=1).sum())
        period = float(np.median(np.diff(self._t[idx])))
        if complete == 0 or complete * period < self.config.min_seconds - 1e-9:
            return None
        return paper_pose_features(self._xy[idx], ok)
