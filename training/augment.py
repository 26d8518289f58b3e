"""Turning any pose sequence into camera-like training windows.

The model must learn from 3D motion capture and 2D keypoints and then run on MediaPipe
landmarks from a camera. So 3D sequences are projected through random virtual pinhole
cameras (yaw around the dancer, pitch, distance, focal length, a static or following
camera), and every window is roughened the way real video is: body proportions changed,
mirrored, jittered, legs or single joints lost, frames dropped, and the frame rate itself
drawn at random between 5 and 60 fps before the common resampling chain. The last one is
what stops a model from recognising a source by its frame rate or its spectrum (waltz mocap
is 5.9 fps, so its motion has nothing above 3 Hz).

Evaluation uses :data:`EVAL_CAMERA` and no augmentation, so scores are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from edge.features.motion import BODY_JOINTS, FeatureSpec, Track, body_points, window_ends, window_features
from edge.core.schema import LANDMARK, PoseSequence

_J = {n: i for i, n in enumerate(BODY_JOINTS)}
_MIRROR = np.array([_J[n.replace("left", "#").replace("right", "left").replace("#", "right")] for n in BODY_JOINTS])
_HIPS = [LANDMARK["left_hip"], LANDMARK["right_hip"]]
_MID = [_J[f"{s}_{j}"] for s in ("left", "right") for j in ("elbow", "knee")]
_DISTAL = [_J[f"{s}_{j}"] for s in ("left", "right") for j in ("wrist", "ankle")]


def _noise_scale(cfg: "AugmentConfig") -> np.ndarray:
    """Per-joint jitter factor: pose estimators are least sure of the limbs' ends."""
    f = np.ones(len(BODY_JOINTS))
    f[_MID], f[_DISTAL] = cfg.distal_noise
    return f


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking at the dancer. Angles in degrees, distances in metres."""

    yaw: float = 0.0
    pitch: float = 8.0
    distance: float = 4.5
    focal: float = 1000.0
    image_size: tuple[int, int] = (1280, 720)
    follow: bool = False


EVAL_CAMERA = Camera()


def card_camera(card: Optional[dict]) -> Camera:
    """The evaluation camera a model card records (:data:`EVAL_CAMERA` when it records none)."""
    cam = (card or {}).get("eval_camera") or {}
    return Camera(**{**cam, "image_size": tuple(cam.get("image_size", EVAL_CAMERA.image_size))})

#: Fraction of frames with a body in which MediaPipe leaves each joint below visibility 0.5,
#: measured on the shared real videos (``realvideo/`` and ``videos/``, 21 clips, the mean over
#: clips): the arms are lost most (occlusion, motion blur), the head and torso almost never.
#: Runs of invisible frames lasted 0.3-2.0 s (median 0.3-0.7 s per joint).
CAMERA_INVISIBLE: dict[str, float] = {
    "head": 0.0, "left_shoulder": 0.0, "right_shoulder": 0.0,
    "left_elbow": 0.32, "right_elbow": 0.37, "left_wrist": 0.42, "right_wrist": 0.46,
    "left_hip": 0.013, "right_hip": 0.013, "left_knee": 0.21, "right_knee": 0.25,
    "left_ankle": 0.14, "right_ankle": 0.18,
}


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of every augmentation (all off with :meth:`none`)."""

    yaw_range: tuple[float, float] = (-180.0, 180.0)
    pitch_range: tuple[float, float] = (-5.0, 25.0)
    distance_range: tuple[float, float] = (3.0, 7.0)
    focal_range: tuple[float, float] = (600.0, 1600.0)
    follow_prob: float = 0.5
    limb_scale: float = 0.12
    mirror_prob: float = 0.5
    noise_torso: float = 0.02
    drop_legs_prob: float = 0.15
    drop_joint_prob: float = 0.04
    gap_prob: float = 0.3
    max_gap_seconds: float = 1.0
    frame_drop: float = 0.08
    rate_range: tuple[float, float] = (5.5, 60.0)
    keep_rate_prob: float = 0.25
    time_jitter: float = 0.15
    speed_range: tuple[float, float] = (0.94, 1.06)
    #: Share of windows that get the pose estimator's visibility model (:func:`camera_dropouts`).
    camera_dropout_prob: float = 0.7
    #: Per-window multiplier of :data:`CAMERA_INVISIBLE` (clips range from clean to occluded).
    camera_dropout_scale: tuple[float, float] = (0.0, 2.0)
    #: Mean length of a run of frames in which a joint is not seen, seconds.
    camera_dropout_run_seconds: float = 1.0
    #: Jitter of the distal joints relative to ``noise_torso`` (elbows/knees, wrists/ankles).
    distal_noise: tuple[float, float] = (1.5, 2.5)
    #: Share of windows in which the dancer only just appeared (nothing seen before a random
    #: point in the window's first half): what the runtime classifies on its first updates.
    appear_prob: float = 0.15
    enabled: bool = True

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(enabled=False)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    """World-to-camera rotation: camera at ``yaw`` around the dancer, tilted down by ``pitch``."""
    y, p = np.radians(yaw), np.radians(pitch)
    # camera axes in world coordinates: looking along -forward, x right, y up
    forward = np.array([np.sin(y) * np.cos(p), np.sin(p), np.cos(y) * np.cos(p)])  # from target to camera
    right = np.array([np.cos(y), 0.0, -np.sin(y)])
    up = np.cross(forward, right)
    return np.stack([right, up, forward])


def project(points: np.ndarray, mask: np.ndarray, camera: Camera) -> np.ndarray:
    """Project (T, 33, 3) world points (metres, y up) to (T, 33, 2) pixels (y down)."""
    hips_ok = mask[:, _HIPS].all(axis=1)
    centre = points[:, _HIPS].mean(axis=1)
    if camera.follow and len(points) > 1:
        k = max(1, min(len(points), int(len(points) * 0.2)))
        kern = np.ones(k) / k
        target = np.stack([np.convolve(np.pad(centre[:, d], (k // 2, k - 1 - k // 2), mode="edge"), kern, "valid")
                           for d in range(3)], axis=1)
    else:
        target = np.broadcast_to(centre[hips_ok].mean(axis=0) if hips_ok.any() else centre.mean(axis=0), centre.shape)
    rot = _rotation(camera.yaw, camera.pitch)
    origin = target + camera.distance * rot[2]
    rel = points - origin[:, None, :]
    cam = rel @ rot.T
    depth = np.maximum(-cam[..., 2], 0.3)
    w, h = camera.image_size
    u = camera.focal * cam[..., 0] / depth + w / 2
    v = -camera.focal * cam[..., 1] / depth + h / 2
    return np.stack([u, v], axis=-1)


def sequence_track(seq: PoseSequence, camera: Camera = EVAL_CAMERA,
                   lo: int = 0, hi: Optional[int] = None) -> Track:
    """Body-joint track of frames ``lo:hi`` of a sequence, projecting world sequences."""
    pts, m, t = seq.points[lo:hi], seq.mask[lo:hi], seq.times[lo:hi]
    if seq.frame == "world":
        xy = project(pts.astype(np.float64), m, camera)
    else:
        xy = pts[..., :2].astype(np.float64)
    joints, ok = body_points(xy, m)
    return Track(np.asarray(t, np.float64), joints, ok)


def _torso(track: Track) -> float:
    x, ok = track.xy, track.ok
    s = (x[:, _J["left_shoulder"]] + x[:, _J["right_shoulder"]]) / 2
    h = (x[:, _J["left_hip"]] + x[:, _J["right_hip"]]) / 2
    good = ok[:, [_J["left_shoulder"], _J["right_shoulder"], _J["left_hip"], _J["right_hip"]]].all(axis=1)
    if not good.any():
        return 1.0
    return float(np.median(np.linalg.norm(s[good] - h[good], axis=1)))


def _scale_limbs(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Change bone lengths along each chain (shoulder->elbow->wrist, hip->knee->ankle...)."""
    x = x.copy()
    f = lambda: 1.0 + rng.uniform(-amount, amount)  # noqa: E731
    sm = (x[:, _J["left_shoulder"]] + x[:, _J["right_shoulder"]]) / 2
    hm = (x[:, _J["left_hip"]] + x[:, _J["right_hip"]]) / 2
    sw, hw = f(), f()
    for side in ("left", "right"):
        s, h = _J[f"{side}_shoulder"], _J[f"{side}_hip"]
        new_s = sm + sw * (x[:, s] - sm)
        new_h = hm + hw * (x[:, h] - hm)
        for parent_old, parent_new, chain in ((x[:, s].copy(), new_s, ("elbow", "wrist")),
                                              (x[:, h].copy(), new_h, ("knee", "ankle"))):
            prev_old, prev_new = parent_old, parent_new
            for joint in chain:
                j = _J[f"{side}_{joint}"]
                old = x[:, j].copy()
                x[:, j] = prev_new + f() * (old - prev_old)
                prev_old, prev_new = old, x[:, j].copy()
        x[:, s], x[:, h] = new_s, new_h
    x[:, _J["head"]] = sm + f() * (x[:, _J["head"]] - sm)
    return x


def _resample_rate(track: Track, rng: np.random.Generator, cfg: AugmentConfig, raw_fps: float) -> Track:
    """Re-time the track as if a camera at a random frame rate (with jitter) had filmed it."""
    if rng.random() < cfg.keep_rate_prob:
        return track
    rate = float(np.exp(rng.uniform(np.log(cfg.rate_range[0]), np.log(cfg.rate_range[1]))))
    if rate >= raw_fps:
        return track
    t0, t1 = track.times[0], track.times[-1]
    grid = np.arange(t0, t1, 1.0 / rate)
    grid = grid + rng.normal(0, cfg.time_jitter / rate, len(grid))
    idx = np.unique(np.clip(np.searchsorted(track.times, grid), 0, len(track.times) - 1))
    return Track(track.times[idx], track.xy[idx], track.ok[idx])


def camera_dropouts(track: Track, rng: np.random.Generator, cfg: AugmentConfig) -> Track:
    """Hide joints the way a pose estimator on a camera does: in runs, distal joints most.

    Each joint follows a two-state Markov chain over the track's own frame times whose
    stationary share of hidden frames is its :data:`CAMERA_INVISIBLE` rate times one random
    factor per window, and whose hidden runs last ``camera_dropout_run_seconds`` on average.
    Motion capture never loses a marker, so without this a model can tell it from a camera
    by visibility alone.
    """
    scale = rng.uniform(*cfg.camera_dropout_scale)
    rates = np.clip(np.array([CAMERA_INVISIBLE.get(n, 0.0) for n in BODY_JOINTS]) * scale, 0.0, 0.9)
    if not rates.any() or len(track.times) < 2:
        return track
    dt = np.diff(track.times, prepend=track.times[0] - float(np.median(np.diff(track.times))))
    hidden = rng.random(len(rates)) < rates
    ok = track.ok.copy()
    for i, step in enumerate(dt):
        leave = min(1.0, step / cfg.camera_dropout_run_seconds)
        enter = np.minimum(1.0, leave * rates / np.maximum(1.0 - rates, 1e-6))
        u = rng.random(len(rates))
        hidden = np.where(hidden, u >= leave, u < enter)
        ok[i] &= ~hidden
    return Track(track.times, track.xy, ok)


def augment_track(track: Track, rng: np.random.Generator, cfg: AugmentConfig, raw_fps: float) -> Track:
    """Apply the camera-realism augmentations to a track (times, 2D joints, visibility)."""
    if not cfg.enabled:
        return track
    x, ok, t = track.xy.copy(), track.ok.copy(), track.times.copy()
    x = _scale_limbs(x, rng, cfg.limb_scale)
    if rng.random() < cfg.mirror_prob:
        x[..., 0] = -x[..., 0]
        x, ok = x[:, _MIRROR], ok[:, _MIRROR]
    torso = _torso(track)
    x += rng.normal(0, cfg.noise_torso * torso, x.shape) * _noise_scale(cfg)[None, :, None]
    if rng.random() < cfg.drop_legs_prob:
        legs = [_J[f"{s}_{j}"] for s in ("left", "right") for j in ("knee", "ankle")]
        if rng.random() < 0.3:
            legs += [_J["left_hip"], _J["right_hip"]]
        ok[:, legs] = False
    for j in range(ok.shape[1]):
        if rng.random() < cfg.drop_joint_prob:
            a = rng.integers(0, len(t))
            ok[a:a + rng.integers(1, max(2, len(t) // 2)), j] = False
    keep = rng.random(len(t)) >= cfg.frame_drop
    if rng.random() < cfg.gap_prob and len(t) > 2:
        start = rng.uniform(t[0], t[-1])
        keep &= ~((t >= start) & (t < start + rng.uniform(0.1, cfg.max_gap_seconds)))
    keep[[0, -1]] = True
    out = _resample_rate(Track(t[keep], x[keep], ok[keep]), rng, cfg, raw_fps)
    if rng.random() < cfg.camera_dropout_prob:
        out = camera_dropouts(out, rng, cfg)
    return out


def random_camera(rng: np.random.Generator, cfg: AugmentConfig) -> Camera:
    return Camera(
        yaw=rng.uniform(*cfg.yaw_range),
        pitch=rng.uniform(*cfg.pitch_range),
        distance=rng.uniform(*cfg.distance_range),
        focal=rng.uniform(*cfg.focal_range),
        follow=bool(rng.random() < cfg.follow_prob),
    )


def sample_window(seq: PoseSequence, rng: np.random.Generator, spec: FeatureSpec,
                  cfg: AugmentConfig) -> tuple[np.ndarray, float]:
    """One random augmented training window from ``seq``: (N, C) features and valid fraction."""
    speed = rng.uniform(*cfg.speed_range) if cfg.enabled else 1.0
    need = spec.window_seconds + spec.context_seconds + spec.latency_seconds + 0.5
    duration = seq.duration / speed
    hi = duration - 1.0 / seq.fps
    lo = min(need, hi)
    t_end = rng.uniform(lo, hi) if hi > lo else hi
    lo = int(np.searchsorted(seq.times / speed, t_end - need - 0.5))
    hi = int(np.searchsorted(seq.times / speed, t_end + 0.5)) + 1
    camera = random_camera(rng, cfg) if cfg.enabled else EVAL_CAMERA
    track = sequence_track(seq, camera, lo, hi)
    track = Track(track.times / speed, track.xy, track.ok)
    track = augment_track(track, rng, cfg, seq.fps / speed)
    if cfg.enabled and rng.random() < cfg.appear_prob:
        since = t_end - spec.latency_seconds - rng.uniform(0.45, 1.0) * spec.window_seconds
        track = Track(track.times, track.xy, track.ok & (track.times >= since)[:, None])
    return window_features(track, t_end, spec)


def clip_windows(seq: PoseSequence, spec: FeatureSpec, hop_seconds: float,
                 camera: Camera = EVAL_CAMERA, min_valid: float = 0.5) -> np.ndarray:
    """Every evaluation window of a clip (no augmentation), shape (W, N, C).

    Windows where fewer than ``min_valid`` of the frames show a body are left out: nothing is
    classified from an empty window.
    """
    track = sequence_track(seq, camera)
    out = []
    for t_end in window_ends(seq.duration, spec, hop_seconds, start=float(seq.times[0])):
        feats, valid = window_features(track, float(t_end), spec)
        if valid >= min_valid:
            out.append(feats)
    if not out:
        return np.zeros((0, spec.window_frames, spec.num_channels), dtype=np.float32)
    return np.stack(out)
