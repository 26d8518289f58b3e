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
``unsure``      the calibrated model does not recognise the movement as any style it knows
                (low confidence or far from the training data): songs are ranked by tempo;
``style``       a style is shown, with its smoothed probability as confidence.

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
from edge.features.motion import BODY_JOINTS, Track, body_points, window_features
from edge.pose.base import PoseEstimator, PoseResult
from edge.recommend.catalog import Catalog
from edge.recommend.rank import Recommendation, movement_tempo, recommend
from edge.runtime.smoothing import OneEuroFilter, StyleSmoother
from edge.sources.frames import Frame

#: Version of the JSON line schema written by ``edgerec run --json``.
UPDATE_SCHEMA_VERSION = 1
#: The stages whose latency is measured, in pipeline order.
STAGES = ("capture", "pose", "features", "classify", "recommend")
STATES = ("warming_up", "no_dancer", "unsure", "style")
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

    def __post_init__(self) -> None:
        if self.pose_every < 1:
            raise ValueError(f"pose_every must be at least 1, got {self.pose_every}")
        if not self.hop_seconds > 0:
            raise ValueError(f"the hop must be positive, got {self.hop_seconds} s")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")


def _r(x: Optional[float], nd: int = 4) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def recommendation_json(r: Recommendation) -> dict[str, Any]:
    s = r.song
    return {
        "id": s.id, "title": s.title, "style": s.style, "bpm": _r(s.bpm, 1), "mood": s.mood,
        "source": s.source, "licence": s.licence, "score": _r(r.score),
        "style_fit": _r(r.style_fit), "tempo_fit": _r(r.tempo_fit), "why": r.why,
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
        }


@dataclass
class _Stats:
    frames: int = 0
    frames_with_pose: int = 0
    updates: int = 0
    states: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATES})
    styles: dict[str, int] = field(default_factory=dict)
    per_frame: dict[str, list[float]] = field(default_factory=lambda: {"capture": [], "pose": [], "total": []})
    per_update: dict[str, list[float]] = field(default_factory=lambda: {"features": [], "classify": [], "recommend": []})
    wall_start: Optional[float] = None
    wall_end: Optional[float] = None
    resets: int = 0


class Runtime:
    """The per-stream state machine. Feed frames with :meth:`process`; read :meth:`summary`.

    ``pose`` may be None when the source carries landmarks (``--poses``).
    """

    def __init__(self, model: StyleModel, catalog: Catalog, pose: Optional[PoseEstimator] = None,
                 config: RuntimeConfig = RuntimeConfig()):
        self.model = model
        self.catalog = catalog
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
        self._times: deque[float] = deque()
        self._xy: deque[np.ndarray] = deque()
        self._ok: deque[np.ndarray] = deque()
        self._last_pose_t: Optional[float] = None
        self._present_since: Optional[float] = None
        self._next_update: Optional[float] = None
        self._since_update: dict[str, list[float]] = {"capture": [], "pose": []}
        self._bpm_history: deque[float] = deque(maxlen=5)
        self._wall: deque[float] = deque()
        self.stats = _Stats()
        self.last_update: Optional[Update] = None
        self.last_pose: Optional[PoseResult] = None

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
            self.stats.per_frame["pose"].append(pose_ms)
            self._since_update["pose"].append(pose_ms)
        self.stats.frames += 1
        self.stats.per_frame["capture"].append(frame.capture_ms)
        self._since_update["capture"].append(frame.capture_ms)

        update = None
        if self._next_update is None:
            self._next_update = frame.t + self.config.hop_seconds
        elif frame.t + 1e-9 >= self._next_update:
            update = self._decide(frame, dropped)
            while self._next_update <= frame.t + 1e-9:
                self._next_update += self.config.hop_seconds
        now = time.perf_counter()
        self.stats.per_frame["total"].append((now - wall0) * 1e3 + frame.capture_ms)
        self.stats.wall_end = now
        self._wall.append(now)
        while self._wall and now - self._wall[0] > 2.0:
            self._wall.popleft()
        return update

    @property
    def fps(self) -> float:
        """Frames processed per wall-clock second over the last two seconds."""
        if len(self._wall) < 2:
            return 0.0
        span = self._wall[-1] - self._wall[0]
        return (len(self._wall) - 1) / span if span > 0 else 0.0

    def _add(self, frame: Frame, result: PoseResult) -> None:
        t = frame.t
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
        lat = {"capture": float(np.mean(self._since_update["capture"] or [0.0])),
               "pose": float(np.mean(self._since_update["pose"] or [0.0]))}
        self._since_update = {"capture": [], "pose": []}
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
        if valid >= cfg.min_valid:
            p, unsure, distance = self.model(feats)
            t2 = time.perf_counter()
            lat["classify"] = (t2 - t1) * 1e3
            smoothed, shown = self.smoother.update(p, unsure)
            labels = self.model.labels
            probs = dict(zip(labels, smoothed.tolist()))
            wprobs = dict(zip(labels, np.asarray(p, np.float64).tolist()))
            recent = track.times >= window_end - self.spec.window_seconds
            legs_seen = float(track.ok[recent][:, _LEG_JOINTS].any(axis=1).mean()) if recent.any() else 0.0
            view = "full" if legs_seen >= 0.5 else "upper"
            if shown is None:
                state = "unsure"
            else:
                state, style, confidence = "style", shown, float(probs[shown])
            bpm = self._movement_bpm(track, t)
            recs = tuple(recommend(smoothed, bpm, self.catalog, cfg.top_k, labels, unsure=state == "unsure"))
            lat["recommend"] = (time.perf_counter() - t2) * 1e3
        elif seen_recently and self._present_since is not None and \
                t - self._present_since < self.spec.window_seconds + self.spec.latency_seconds:
            state = "warming_up"
        if state == "no_dancer":
            self.smoother.reset()
        self.stats.per_update["features"].append(lat["features"])
        if state in ("style", "unsure"):
            self.stats.per_update["classify"].append(lat["classify"])
            self.stats.per_update["recommend"].append(lat["recommend"])
        self.stats.updates += 1
        self.stats.states[state] += 1
        if style is not None:
            self.stats.styles[style] = self.stats.styles.get(style, 0) + 1
        update = Update(t=t, frame=frame.index, state=state, style=style, confidence=confidence,
                        probs=probs, window_probs=wprobs, unsure=bool(unsure), distance=distance,
                        valid=float(valid), view=view, movement_bpm=bpm, recommendations=recs,
                        latency_ms=lat, fps=self.fps, dropped=int(dropped),
                        window_end=window_end if probs is not None else None)
        self.last_update = update
        return update

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

        def pct(v: Sequence[float]) -> Optional[dict[str, float]]:
            if not len(v):
                return None
            a = np.asarray(v, np.float64)
            return {"mean": round(float(a.mean()), 3), "p50": round(float(np.percentile(a, 50)), 3),
                    "p90": round(float(np.percentile(a, 90)), 3), "p99": round(float(np.percentile(a, 99)), 3),
                    "n": int(len(a))}

        decided = st.states["style"] + st.states["unsure"]
        last = self.last_update
        top_style = max(st.styles, key=st.styles.get) if st.styles else None
        return {
            "type": "summary", "schema": UPDATE_SCHEMA_VERSION, "source": source,
            "model": str(self.model.path), "labels": self.model.labels,
            "frames": st.frames, "pose_runs": len(st.per_frame["pose"]), "frames_with_pose": st.frames_with_pose,
            "pose_fraction": round(st.frames_with_pose / st.frames, 4) if st.frames else 0.0,
            "dropped": int(dropped), "wall_seconds": round(wall, 3),
            "fps": round(st.frames / wall, 2) if wall > 0 else None,
            "updates": st.updates, "states": dict(st.states), "resets": st.resets,
            "style_shares": {k: round(v / decided, 4) for k, v in sorted(st.styles.items())} if decided else {},
            "most_shown_style": top_style,
            "final": last.to_json() if last else None,
            "latency_ms": {
                "capture": pct(st.per_frame["capture"]), "pose": pct(st.per_frame["pose"]),
                "features": pct(st.per_update["features"]), "classify": pct(st.per_update["classify"]),
                "recommend": pct(st.per_update["recommend"]), "frame_total": pct(st.per_frame["total"]),
            },
        }
