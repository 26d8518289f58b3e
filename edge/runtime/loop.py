"""The streaming runtime: frames in, a style and music recommendations out, every hop.

Per frame: pose (skipped when the source already carries landmarks), landmarks to pixels
with the aspect ratio restored, One Euro smoothing, the 13 body joints appended to a
timestamped buffer. Every ``hop_seconds`` of media time: the window is cut from the buffer
by :func:`edge.features.motion.window_features` (the exact resampling and band limit the model was
trained with, whatever rate the source delivers), classified, calibrated, smoothed with
hysteresis, and the catalogue is ranked for the dancer's style and movement tempo.

States an update can be in:

``warming_up``  a dancer is in view but too little of the window shows them yet
                (``RuntimeConfig.min_valid``, half a window; the band-limit filter makes a
                window lag the newest frame by ``FeatureSpec.latency_seconds``);
``no_dancer``   too few frames of the window have a body (shoulders or hips): nothing is
                classified from an empty window, and after ``reset_after_seconds`` without
                a pose the buffer, the smoothing and the pose tracker are reset;
``still``       a body is in view but hardly moves (a person standing still, a frozen camera
                feed) or is no body at all (a skeleton collapsed to a point): the window's
                motion energy (:func:`window_motion`) is below ``RuntimeConfig.still_speed``
                or the body's extent below ``RuntimeConfig.min_extent`` (:data:`STILL_SPEED`
                and :data:`MIN_EXTENT` give the measurements behind both). The model is not
                asked (it calls many a frozen pose a style at 99%), its smoothing is kept
                (a pause is part of a dance), no style or tempo is shown, and songs are
                ranked like ``unsure``, by tempo only: the last tempo the dancer moved at
                (catalogue order before any tempo is known). The energy is the window's
                mean, so a dancer who freezes is ``still`` once most of the window has
                stopped (5 to 6 s after the freeze with the default spec, Ana's salsa);
``unsure``      the calibrated model does not recognise the movement as any style it knows
                (low confidence or far from the training data): songs are ranked by tempo;
``style``       a style is shown, with its smoothed probability as confidence.

**Listening.** When an audio source is given (:meth:`Runtime.hear`, fed by
:mod:`edge.sources.audio`), a streaming :class:`edge.features.beat.MusicAnalyser` follows the
music: every update then carries the music's tempo and beats (``music``), the dancer's
on-beat score (``on_beat``: kinematic beats against the music's, 0 = chance, 1 = on every
beat; only while a dancer moves, state ``style`` or ``unsure``), and the recommendations
hear the room (the music's tempo and its sound, :mod:`edge.recommend.rank`). Silence is
reported as such and ranks like no audio at all.

Short pose gaps (up to ``FeatureSpec.max_gap_seconds``) are bridged by the feature chain's
interpolation; upper-body views (legs out of frame) are classified, since training drops
legs at random, and the update says which view it saw.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from edge.classify.model import StyleModel
from edge.features.beat import BeatScore, MusicAnalyser, MusicSpec, MusicState, on_beat
from edge.features.motion import BODY_JOINTS, FeatureSpec, Track, body_points, window_features
from edge.pose.base import PoseEstimator, PoseResult
from edge.recommend.catalog import Catalog, with_style_links
from edge.recommend.rank import Recommendation, movement_tempo, recommend
from edge.recommend.sound import reference_spectrum
from edge.runtime.smoothing import OneEuroFilter, StyleSmoother
from edge.runtime.stats import StreamingStats
from edge.sources.frames import Frame

#: Version of the JSON line schema written by ``edgerec run --json``. 2 added ``music`` and
#: ``on_beat`` (null without audio) and ``sound_fit`` in each recommendation; 3 added
#: ``companions`` (the answers of companion models, an empty list without any); nothing was removed.
UPDATE_SCHEMA_VERSION = 3
#: The stages whose latency is measured, in pipeline order.
STAGES = ("capture", "pose", "features", "classify", "recommend")
STATES = ("warming_up", "no_dancer", "still", "unsure", "style")
#: Default :attr:`RuntimeConfig.still_speed`, torso lengths per second, calibrated on the
#: shared data with the shipped model's feature spec (every update of a replay, 0.5 s hop):
#:
#: * real dancing, 6,850 windows: slowest 0.122 (OpenPose salsa, Eero and Ana, slow parts
#:   of the choreography), 1st percentile 0.15 to 0.49 by source; MediaPipe landmarks of the
#:   real videos (realvideo/ 309 windows, min 0.262; videos/ 47, min 0.161), Music-to-Dance
#:   mocap 4,758 (min 0.195), CMU salsa 648 (min 0.306), AIST++ 465 (min 0.471), OpenPose
#:   salsa 623 (min 0.122);
#: * frozen input, one frame of each of the 21 real videos repeated for 20 s (714 windows),
#:   with Gaussian noise of sigma (in image units) added to every landmark: 0 exactly 0;
#:   sigma 0.0005 at most 0.011; 0.001 at most 0.022; 0.002 at most 0.050; 0.003 at most
#:   0.074; 0.005 median 0.066, max 0.122; 0.01 (6 px at 640x480) median 0.145.
#:
#: 0.08 is the geometric middle of 0.050 (the fastest frozen window with 0.2% noise) and
#: 0.122 (the slowest real one): every real window is above it (by 1.5x or more), every
#: frozen one with noise up to sigma 0.003 (2 px at 640x480) below, 90% at sigma 0.005.
#: Without this state the frozen windows showed a style 38% of the time (waltz 28%, salsa
#: 10%) at a median confidence of 0.99; the rest said unsure.
STILL_SPEED = 0.08
#: Default :attr:`RuntimeConfig.min_extent`, image diagonals. Measured like
#: :data:`STILL_SPEED`: real dancers' bodies spread over at least 0.043 (Music-to-Dance
#: through the evaluation camera; real videos 0.071, OpenPose 0.088); a skeleton collapsed
#: to one point with noise of sigma 1e-4 or 1e-3 in image units spreads over 0.0003 at most,
#: yet its torso-normalised motion is 5.6 to 8.9 (pure noise, scaled up). 0.005 (4 px at
#: 640x480) is 8x below the smallest real body and 17x above the collapsed ones.
MIN_EXTENT = 0.005
#: Frames the buffer holds at most, whatever the timestamps say (a source whose clock stops
#: would otherwise grow it without bound): ``keep_seconds`` at this many frames per second.
MAX_BUFFER_RATE = 1000.0
_LEG_JOINTS = [BODY_JOINTS.index(n) for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")]


@dataclass(frozen=True)
class RuntimeConfig:
    """How the runtime decides and smooths. Defaults suit a dancer 2-5 m from a camera."""

    hop_seconds: float = 0.5
    top_k: int = 3
    #: Fraction of the window's frames with shoulders or hips needed to classify it. Half a
    #: window answers about 3 s after a dancer appears; training includes such windows.
    min_valid: float = 0.5
    #: Seconds without any pose after which buffer, smoothing and tracking are reset.
    reset_after_seconds: float = 2.0
    smooth_landmarks: bool = True
    #: Weight of the newest window in the smoothed probabilities.
    prob_alpha: float = 0.5
    #: Smoothed-probability lead a new style needs over the shown one to replace it.
    switch_margin: float = 0.1
    #: Consecutive updates a new decision must lead before it is shown.
    switch_updates: int = 2
    #: Seconds of movement used for the dancer's tempo.
    tempo_seconds: float = 8.0
    visibility_threshold: float = 0.5
    #: Run pose on every n-th frame only (the others are skipped, not queued): trades the
    #: pose rate, which the feature chain resamples anyway, for frames per second.
    pose_every: int = 1
    #: Motion energy (:func:`window_motion`, torso lengths per second) below which a window
    #: is ``still`` and not classified; 0 turns it off. :data:`STILL_SPEED` says how it was set.
    still_speed: float = STILL_SPEED
    #: Body extent (:func:`body_extent`, in image diagonals) below which the skeleton has
    #: collapsed to a point: ``still`` too, whatever its normalised motion; 0 turns it off.
    min_extent: float = MIN_EXTENT

    def __post_init__(self) -> None:
        if self.pose_every < 1:
            raise ValueError(f"pose_every must be at least 1, got {self.pose_every}")
        if not self.hop_seconds > 0:
            raise ValueError(f"the hop must be positive, got {self.hop_seconds} s")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if not (math.isfinite(self.still_speed) and self.still_speed >= 0):
            raise ValueError(f"still_speed must be a non-negative number, got {self.still_speed}")
        if not (math.isfinite(self.min_extent) and self.min_extent >= 0):
            raise ValueError(f"min_extent must be a non-negative number, got {self.min_extent}")


def _r(x: Optional[float], nd: int = 4) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def recommendation_json(r: Recommendation) -> dict[str, Any]:
    s = r.song
    return {
        "id": s.id, "title": s.title, "style": s.style, "bpm": _r(s.bpm, 1), "mood": s.mood,
        "source": s.source, "licence": s.licence, "score": _r(r.score),
        "style_fit": _r(r.style_fit), "tempo_fit": _r(r.tempo_fit), "sound_fit": _r(r.sound_fit), "why": r.why,
    }


@dataclass(frozen=True)
class Update:
    """One decision of the runtime; :meth:`to_json` is the ``--json`` line."""

    t: float
    frame: int
    state: str
    style: Optional[str]
    confidence: Optional[float]
    probs: Optional[dict[str, float]]
    window_probs: Optional[dict[str, float]]
    unsure: bool
    distance: Optional[float]
    valid: float
    view: Optional[str]
    movement_bpm: Optional[float]
    recommendations: tuple[Recommendation, ...]
    latency_ms: dict[str, float]
    fps: float
    dropped: int
    window_end: Optional[float] = None
    #: The window's motion energy (:func:`window_motion`); None when no window was cut.
    #: Not part of the JSON line (schema 1 has no such key).
    motion: Optional[float] = None
    #: The body's extent in the window (:func:`body_extent`) in image diagonals; not in JSON.
    extent: Optional[float] = None
    #: What the music is doing (None without an audio source).
    music: Optional[MusicState] = None
    #: How the dancer moves on the music's beat (None without music or without movement).
    beat: Optional[BeatScore] = None
    #: Companion models' answers (:mod:`edge.runtime.companions`), in the order given.
    companions: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        rnd = (lambda d: None if d is None else {k: round(float(v), 5) for k, v in d.items()})
        return {
            "type": "update", "schema": UPDATE_SCHEMA_VERSION,
            "t": round(self.t, 3), "frame": self.frame, "state": self.state, "style": self.style,
            "confidence": _r(self.confidence), "probs": rnd(self.probs),
            "window_probs": rnd(self.window_probs), "unsure": self.unsure,
            "distance": _r(self.distance), "valid": round(self.valid, 3), "view": self.view,
            "window_end": _r(self.window_end, 3), "movement_bpm": _r(self.movement_bpm, 1),
            "recommendations": [recommendation_json(r) for r in self.recommendations],
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            "fps": round(self.fps, 2), "dropped": self.dropped,
            "music": self.music.to_json() if self.music is not None else None,
            "on_beat": self.beat.to_json() if self.beat is not None else None,
            "companions": [c.to_json() for c in self.companions],
        }


def window_motion(feats: np.ndarray, spec: FeatureSpec) -> float:
    """The motion energy of a window: the mean speed of its joints, in torso lengths per second.

    Read from the window's own channels (:func:`edge.features.motion.window_features`): the
    body points after hip-centring and scaling by the window's median torso length, resampled
    to ``spec.rate`` and band-limited, differenced between consecutive frames where both see
    the joint. A window without a single such pair (or whose skeleton collapsed to a point,
    which the features zero) has energy 0.
    """
    j = len(spec.joints)
    first_vis = spec.channels.index(f"vis_{spec.joints[0]}")
    pos = np.asarray(feats[:, : 2 * j], np.float64).reshape(len(feats), j, 2)
    ok = np.asarray(feats[:, first_vis: first_vis + j]) > 0.5
    pair = ok[1:] & ok[:-1]
    if not pair.any():
        return 0.0
    speed = np.linalg.norm(np.diff(pos, axis=0), axis=-1) * spec.rate
    return float(speed[pair].mean())


def body_extent(xy: np.ndarray, ok: np.ndarray) -> float:
    """How far the seen joints spread: the median over frames of their RMS distance from
    their centroid (in the units of ``xy``), over frames that see at least two joints; 0
    when none does. A skeleton collapsed to a point has an extent of its pixel noise, which
    the window's torso normalisation would blow up into large motion."""
    okf = np.asarray(ok, np.float64)
    n = okf.sum(axis=1)
    use = n >= 2
    if not use.any():
        return 0.0
    x, w, n = np.asarray(xy, np.float64)[use], okf[use], n[use]
    centre = (x * w[..., None]).sum(axis=1) / n[:, None]
    d2 = (((x - centre[:, None]) ** 2).sum(axis=-1) * w).sum(axis=1) / n
    return float(np.median(np.sqrt(d2)))


def _latency_stats(*names: str) -> dict[str, StreamingStats]:
    return {n: StreamingStats() for n in names}


@dataclass
class _Stats:
    """Counts and latency of a run, in constant memory however long it runs."""

    frames: int = 0
    frames_with_pose: int = 0
    updates: int = 0
    states: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATES})
    styles: dict[str, int] = field(default_factory=dict)
    per_frame: dict[str, StreamingStats] = field(default_factory=lambda: _latency_stats("capture", "pose", "total"))
    per_update: dict[str, StreamingStats] = field(
        default_factory=lambda: _latency_stats("features", "classify", "recommend"))
    wall_start: Optional[float] = None
    wall_end: Optional[float] = None
    resets: int = 0
    #: Audio heard: chunks, seconds; on-beat scores of the run (constant memory).
    audio_chunks: int = 0
    audio_seconds: float = 0.0
    on_beat: StreamingStats = field(default_factory=StreamingStats)
    music_bpm: StreamingStats = field(default_factory=StreamingStats)


class Runtime:
    """The per-stream state machine. Feed frames with :meth:`process`; read :meth:`summary`.

    ``pose`` may be None when the source carries landmarks (``--poses``). ``companions``
    (:class:`edge.runtime.companions.ClipCompanion`) see every frame's landmarks and every
    chunk of sound, and answer at each update beside the model; they change nothing else.
    """

    def __init__(self, model: StyleModel, catalog: Catalog, pose: Optional[PoseEstimator] = None,
                 config: RuntimeConfig = RuntimeConfig(), music_spec: MusicSpec = MusicSpec(),
                 companions: Sequence[Any] = ()):
        self.model = model
        self.companions = tuple(companions)
        # a model with user styles (edge.classify.packs) links them to the catalogue's songs
        links = getattr(model, "style_links", None)
        self.catalog = with_style_links(catalog, links) if links else catalog
        self.pose = pose
        self.config = config
        self.spec = model.spec
        self.landmark_filter = OneEuroFilter()
        self.smoother = StyleSmoother(model.labels, config.prob_alpha, config.switch_margin,
                                      config.switch_updates)
        # enough history for the window, its filter context and the tempo estimate
        self.keep_seconds = max(self.spec.window_seconds + self.spec.latency_seconds
                                + self.spec.context_seconds + self.spec.max_gap_seconds + 1.0,
                                config.tempo_seconds + 1.0)
        cap = int(math.ceil(self.keep_seconds * MAX_BUFFER_RATE))
        self._times: deque[float] = deque(maxlen=cap)
        self._xy: deque[np.ndarray] = deque(maxlen=cap)
        self._ok: deque[np.ndarray] = deque(maxlen=cap)
        self._last_pose_t: Optional[float] = None
        self._present_since: Optional[float] = None
        self._next_update: Optional[float] = None
        # per-frame latency since the last update: [sum, count] (a mean, in constant memory)
        self._since_update: dict[str, list[float]] = {"capture": [0.0, 0], "pose": [0.0, 0]}
        self._bpm_history: deque[float] = deque(maxlen=5)
        self._wall: deque[float] = deque()
        self.stats = _Stats()
        self.last_update: Optional[Update] = None
        self.last_pose: Optional[PoseResult] = None
        self.music_spec = music_spec
        #: The streaming music analyser, made by the first :meth:`hear` (None: nothing heard).
        self.music: Optional[MusicAnalyser] = None
        self._reference = reference_spectrum([s.log_mel for s in self.catalog.songs if s.log_mel])

    # ------------------------------------------------------------------ audio

    def hear(self, samples: np.ndarray, sample_rate: int, t: Optional[float] = None) -> None:
        """Add a chunk of mono audio whose first sample is at media time ``t`` (the frames'
        clock). The first chunk starts the analyser at its sample rate."""
        if self.music is None or self.music.input_rate != int(sample_rate):
            self.music = MusicAnalyser(int(sample_rate), self.music_spec)
        self.music.push(samples, t)
        for c in self.companions:
            c.hear(samples, sample_rate, t)
        self.stats.audio_chunks += 1
        self.stats.audio_seconds += len(samples) / float(sample_rate)

    # ------------------------------------------------------------------ per frame

    def process(self, frame: Frame, dropped: int = 0) -> Optional[Update]:
        """Run one frame through the pipeline; returns an :class:`Update` every hop."""
        wall0 = time.perf_counter()
        if self.stats.wall_start is None:
            self.stats.wall_start = wall0 - frame.capture_ms / 1e3
        skip = self.config.pose_every > 1 and self.stats.frames % self.config.pose_every != 0
        pose_ms = 0.0
        if skip:
            result = None  # this frame adds nothing; the features resample from the others
        elif frame.pose is not None or self.pose is None:
            result = frame.pose if frame.pose is not None else PoseResult(None)
        else:
            if frame.image is None:
                raise ValueError("a frame without pixels needs landmarks from its source")
            result = self.pose.process(frame.image, timestamp_s=frame.t)
            pose_ms = (time.perf_counter() - wall0) * 1e3
        if result is not None:
            self.last_pose = result
            self._add(frame, result)
            self.stats.per_frame["pose"].add(pose_ms)
            self._since("pose", pose_ms)
        self.stats.frames += 1
        self.stats.per_frame["capture"].add(frame.capture_ms)
        self._since("capture", frame.capture_ms)

        update = None
        if self._next_update is None:
            self._next_update = frame.t + self.config.hop_seconds
        elif frame.t + 1e-9 >= self._next_update:
            update = self._decide(frame, dropped)
            while self._next_update <= frame.t + 1e-9:
                self._next_update += self.config.hop_seconds
        now = time.perf_counter()
        self.stats.per_frame["total"].add((now - wall0) * 1e3 + frame.capture_ms)
        self.stats.wall_end = now
        self._wall.append(now)
        while self._wall and now - self._wall[0] > 2.0:
            self._wall.popleft()
        return update

    def _since(self, stage: str, ms: float) -> None:
        acc = self._since_update[stage]
        if math.isfinite(ms):
            acc[0] += ms
            acc[1] += 1

    def _mean_since(self, stage: str) -> float:
        total, n = self._since_update[stage]
        return float(total / n) if n else 0.0

    @property
    def fps(self) -> float:
        """Frames processed per wall-clock second over the last two seconds."""
        if len(self._wall) < 2:
            return 0.0
        span = self._wall[-1] - self._wall[0]
        return (len(self._wall) - 1) / span if span > 0 else 0.0

    def _add(self, frame: Frame, result: PoseResult) -> None:
        t = frame.t
        for c in self.companions:
            c.add_frame(t, result.landmarks, frame.size)
        if result.landmarks is None:
            if self._last_pose_t is not None and t - self._last_pose_t > self.config.reset_after_seconds:
                self.reset()
            return
        w, h = frame.size
        lm = np.asarray(result.landmarks, np.float64)
        xy = lm[:, :2] * np.array([w, h], np.float64)
        seen = np.isfinite(xy).all(axis=1) & (np.nan_to_num(lm[:, 3]) >= self.config.visibility_threshold)
        if self._last_pose_t is not None and t - self._last_pose_t > self.config.reset_after_seconds:
            self.reset()
        if self.config.smooth_landmarks:
            diag = float(math.hypot(w, h))
            xy = self.landmark_filter(xy / diag, t) * diag
        joints, ok = body_points(xy[None], seen[None])
        self._times.append(float(t))
        self._xy.append(joints[0])
        self._ok.append(ok[0])
        if self._present_since is None:
            self._present_since = t
        self._last_pose_t = t
        self.stats.frames_with_pose += 1
        while self._times and t - self._times[0] > self.keep_seconds:
            self._times.popleft()
            self._xy.popleft()
            self._ok.popleft()

    def reset(self) -> None:
        """Forget the dancer: after a long gap, a window must not mix two people or moments."""
        self._times.clear()
        self._xy.clear()
        self._ok.clear()
        self.landmark_filter.reset()
        self.smoother.reset()
        self._bpm_history.clear()
        self._last_pose_t = None
        self._present_since = None
        if self.pose is not None:
            self.pose.reset()
        for c in self.companions:
            c.reset()
        self.stats.resets += 1

    # ------------------------------------------------------------------ per hop

    def _track(self) -> Track:
        """The buffered frames as arrays (built once per update)."""
        times = np.fromiter(self._times, np.float64, len(self._times))
        if not len(times):
            j = len(BODY_JOINTS)
            return Track(np.zeros(0), np.zeros((0, j, 2)), np.zeros((0, j), bool))
        return Track(times, np.stack(self._xy), np.stack(self._ok))

    def _decide(self, frame: Frame, dropped: int) -> Update:
        cfg = self.config
        t = frame.t
        lat = {"capture": self._mean_since("capture"), "pose": self._mean_since("pose")}
        self._since_update = {"capture": [0.0, 0], "pose": [0.0, 0]}
        t0 = time.perf_counter()
        track = self._track()
        state, style, confidence, probs, wprobs = "no_dancer", None, None, None, None
        unsure, distance, valid, view, bpm, recs = False, None, 0.0, None, None, ()
        window_end = t - self.spec.latency_seconds
        if len(track.times) >= 2:
            feats, valid = window_features(track, t, self.spec)
        t1 = time.perf_counter()
        lat["features"] = (t1 - t0) * 1e3
        lat["classify"] = 0.0
        lat["recommend"] = 0.0
        seen_recently = self._last_pose_t is not None and t - self._last_pose_t <= cfg.reset_after_seconds
        motion = extent = None
        music = self.music.analyse(t) if self.music is not None else None
        heard = music is not None and not music.silent
        sound = dict(music_bpm=music.bpm if heard else float("nan"),
                     music_log_mel=music.mean_log_mel if heard else None, reference=self._reference)
        beat: Optional[BeatScore] = None
        if valid >= cfg.min_valid:
            labels = self.model.labels
            recent = track.times >= window_end - self.spec.window_seconds
            legs_seen = float(track.ok[recent][:, _LEG_JOINTS].any(axis=1).mean()) if recent.any() else 0.0
            view = "full" if legs_seen >= 0.5 else "upper"
            motion = window_motion(feats, self.spec)
            extent = body_extent(track.xy[recent], track.ok[recent]) / math.hypot(*frame.size)
            if motion < cfg.still_speed or extent < cfg.min_extent:
                # nothing moves: the model is not asked, its smoothing neither fed nor reset
                # (a pause is part of a dance); songs by the last tempo the dancer moved at
                state = "still"
                t2 = time.perf_counter()
                last_bpm = float(np.median(self._bpm_history)) if self._bpm_history else float("nan")
                uniform = np.full(len(labels), 1.0 / len(labels))
                recs = tuple(recommend(uniform, last_bpm, self.catalog, cfg.top_k, labels, unsure=True, **sound))
            else:
                p, unsure, distance = self.model(feats)
                t2 = time.perf_counter()
                lat["classify"] = (t2 - t1) * 1e3
                smoothed, shown = self.smoother.update(p, unsure)
                probs = dict(zip(labels, smoothed.tolist()))
                wprobs = dict(zip(labels, np.asarray(p, np.float64).tolist()))
                if shown is None:
                    state = "unsure"
                else:
                    state, style, confidence = "style", shown, float(probs[shown])
                bpm = self._movement_bpm(track, t)
                if heard and music.has_tempo:
                    beat = on_beat(track.times, track.xy, track.ok, music)
                    if math.isfinite(beat.score):
                        self.stats.on_beat.add(beat.score)
                recs = tuple(recommend(smoothed, bpm, self.catalog, cfg.top_k, labels,
                                       unsure=state == "unsure", **sound))
            lat["recommend"] = (time.perf_counter() - t2) * 1e3
        elif seen_recently and self._present_since is not None and \
                t - self._present_since < self.spec.window_seconds + self.spec.latency_seconds:
            state = "warming_up"
        if state == "no_dancer":
            self.smoother.reset()
        if heard and music.has_tempo:
            self.stats.music_bpm.add(music.bpm)
        companions = tuple(c.decide(t, music) for c in self.companions)
        self.stats.per_update["features"].add(lat["features"])
        if state in ("style", "unsure"):
            self.stats.per_update["classify"].add(lat["classify"])
        if state in ("style", "unsure", "still"):
            self.stats.per_update["recommend"].add(lat["recommend"])
        self.stats.updates += 1
        self.stats.states[state] += 1
        if style is not None:
            self.stats.styles[style] = self.stats.styles.get(style, 0) + 1
        update = Update(t=t, frame=frame.index, state=state, style=style, confidence=confidence,
                        probs=probs, window_probs=wprobs, unsure=bool(unsure), distance=distance,
                        valid=float(valid), view=view, movement_bpm=bpm, recommendations=recs,
                        latency_ms=lat, fps=self.fps, dropped=int(dropped),
                        window_end=window_end if motion is not None else None, motion=motion, extent=extent,
                        music=music, beat=beat, companions=companions)
        self.last_update = update
        return update

    def _audio_summary(self) -> Optional[dict[str, Any]]:
        """What was heard over the run (None when no audio was fed)."""
        st = self.stats
        if self.music is None:
            return None
        return {"chunks": st.audio_chunks, "seconds": round(st.audio_seconds, 3),
                "input_rate": self.music.input_rate, "restarts": self.music.restarts,
                "music_bpm": st.music_bpm.summary(1), "on_beat": st.on_beat.summary(3)}

    def _movement_bpm(self, track: Track, t: float) -> float:
        """The dancer's tempo: the median of the last few estimates, each folded to the octave
        nearest the running value, since the periodicity estimate hops between a step and
        a stride (and half or double tempo ranks songs the same way anyway)."""
        recent = track.times >= t - self.config.tempo_seconds
        tempo = movement_tempo(Track(track.times[recent], track.xy[recent], track.ok[recent]))
        if math.isfinite(tempo.bpm) and tempo.confidence > 0:
            b = float(tempo.bpm)
            if self._bpm_history:
                ref = float(np.median(self._bpm_history))
                b = min((b * f for f in (0.5, 1.0, 2.0)), key=lambda c: abs(math.log2(c / ref)))
            self._bpm_history.append(b)
        return float(np.median(self._bpm_history)) if self._bpm_history else float("nan")

    # ------------------------------------------------------------------ the end

    def summary(self, source: str = "", dropped: int = 0) -> dict[str, Any]:
        """Counts, per-stage latency percentiles, FPS and the style timeline of the run."""
        st = self.stats
        wall = (st.wall_end - st.wall_start) if st.wall_start and st.wall_end else 0.0

        def pct(v: StreamingStats) -> Optional[dict[str, float]]:
            # percentiles within StreamingStats.REL_ERROR (0.5%) of numpy's; mean and n exact
            return v.summary(3)

        decided = st.states["style"] + st.states["unsure"]
        last = self.last_update
        top_style = max(st.styles, key=st.styles.get) if st.styles else None
        return {
            "type": "summary", "schema": UPDATE_SCHEMA_VERSION, "source": source,
            "model": str(self.model.path), "labels": self.model.labels,
            "frames": st.frames, "pose_runs": st.per_frame["pose"].count, "frames_with_pose": st.frames_with_pose,
            "pose_fraction": round(st.frames_with_pose / st.frames, 4) if st.frames else 0.0,
            "dropped": int(dropped), "wall_seconds": round(wall, 3),
            "fps": round(st.frames / wall, 2) if wall > 0 else None,
            "updates": st.updates, "states": dict(st.states), "resets": st.resets,
            "style_shares": {k: round(v / decided, 4) for k, v in sorted(st.styles.items())} if decided else {},
            "most_shown_style": top_style,
            "final": last.to_json() if last else None,
            "audio": self._audio_summary(),
            "companions": [c.summary() for c in self.companions],
            "latency_ms": {
                "capture": pct(st.per_frame["capture"]), "pose": pct(st.per_frame["pose"]),
                "features": pct(st.per_update["features"]), "classify": pct(st.per_update["classify"]),
                "recommend": pct(st.per_update["recommend"]), "frame_total": pct(st.per_frame["total"]),
            },
        }
