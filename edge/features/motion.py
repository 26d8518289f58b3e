"""Features, written once: training imports these, the device runs the same code.

Two feature sets live here.

**The paper's** (:func:`paper_pose_features`, and :func:`paper_vector` with the audio): the
mean over frames of the distance between the first two landmarks and of the angle at
landmark 1 formed with landmarks 0 and 2, concatenated with the song's mean log-mel
spectrum (128 bins): 130 values per clip, exactly as the paper's listings compute them.

**edgerec's per-frame representation** (:func:`window_features`), chosen so that a model
trained on 3D motion capture and 2D keypoints runs unchanged on MediaPipe landmarks from a
camera:

* 2D image-plane coordinates only. 3D sources are projected through virtual cameras in
  training, so the model sees what a camera sees; MediaPipe's depth is too noisy to use.
  MediaPipe's x and y are normalised separately to width and height, so landmark files are
  converted to pixels (aspect ratio restored) before anything else.
* 13 joints that every source has or can derive (a head centre, shoulders, elbows, wrists,
  hips, knees, ankles). The head centre is the ear midpoint, else the eye midpoint, else
  the nose, because sources define "head" differently.
* Every source goes through the same time-base chain: linear interpolation of the raw,
  possibly irregular timestamps onto a 30 Hz grid, a windowed-sinc low-pass at
  :attr:`FeatureSpec.cutoff_hz`, and decimation to :attr:`FeatureSpec.rate`. The cut-off
  sits below the Nyquist frequency of the slowest source (waltz mocap, ~5.9 fps), so no
  source carries motion the others cannot, and any camera from 10 to 60 fps gives the same
  band. Gaps shorter than :attr:`FeatureSpec.max_gap_seconds` are bridged; longer ones
  leave frames invalid (zeroed, with a mask channel saying so).
* Per window: centred on the hip midpoint of each frame and scaled by the window's median
  torso length, so distance to the camera and body size drop out; then positions,
  velocities, accelerations (per second, in torso lengths), eight joint angles, the hip
  centre's velocity, and one visibility channel per joint. Velocities and accelerations
  are compressed with a signed ``log1p``, since marker glitches give them heavy tails.

The window is computed from raw timestamped frames by :func:`window_features` both in
training and on the device, so the two can never disagree about resampling or filtering.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from edge.core.schema import LANDMARK, PoseSequence

#: Bumped whenever the numbers a window produces change; model cards record it.
#: Version 2 added :attr:`FeatureSpec.lag_seconds`; a version-1 spec is a version-2 spec
#: whose lag is half the filter kernel, so both are read (:data:`READABLE_VERSIONS`).
FEATURE_VERSION = 2
READABLE_VERSIONS = (1, 2)

#: The joints of the per-frame representation, in channel order. "head" is derived.
BODY_JOINTS: tuple[str, ...] = (
    "head",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
)
_J = {name: i for i, name in enumerate(BODY_JOINTS)}
#: Joint angles as (a, vertex, b): the angle at ``vertex`` between the rays to a and b.
ANGLES: tuple[tuple[str, str, str], ...] = (
    ("left_shoulder", "left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow", "right_wrist"),
    ("left_hip", "left_knee", "left_ankle"),
    ("right_hip", "right_knee", "right_ankle"),
    ("left_elbow", "left_shoulder", "left_hip"),
    ("right_elbow", "right_shoulder", "right_hip"),
    ("left_knee", "left_hip", "left_shoulder"),
    ("right_knee", "right_hip", "right_shoulder"),
)
#: Candidate landmarks for the derived head centre, best first.
HEAD_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("left_ear", "right_ear"),
    ("left_eye", "right_eye"),
    ("nose",),
)
#: Torso length assumed, in shoulder widths, when no hip is visible in a whole window.
SHOULDER_TO_TORSO = 1.4


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that decides the numbers in a window; stored in every model card."""

    rate: float = 10.0
    window_seconds: float = 5.0
    cutoff_hz: float = 2.4
    interp_rate: float = 30.0
    kernel_seconds: float = 4.0
    context_seconds: float = 2.0
    max_gap_seconds: float = 0.6
    min_valid_fraction: float = 0.5
    #: How far the window's last frame lags the newest frame, seconds. None: half the filter
    #: kernel, a true zero-phase low-pass to the window's end (all that version 1 had). The
    #: default 0.5 s answers 1.5 s sooner; the filter's missing future is treated like any
    #: unseen frame (the normalised convolution renormalises), in training and on the device
    #: alike. Measured cost: a 3 Hz motion leaks 0.058 of its amplitude instead of 0.006.
    lag_seconds: Optional[float] = 0.5
    joints: tuple[str, ...] = BODY_JOINTS
    version: int = FEATURE_VERSION
    channels: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.interp_rate % self.rate:
            raise ValueError("interp_rate must be a whole multiple of rate")
        if not 0 < self.cutoff_hz < self.rate / 2:
            raise ValueError("cutoff_hz must be between 0 and rate / 2")
        if self.lag_seconds is not None and not 0 <= self.lag_seconds <= self.kernel_seconds / 2:
            raise ValueError("lag_seconds must be between 0 and half of kernel_seconds")
        if self.version == 1 and self.lag_seconds is not None:
            raise ValueError("feature version 1 has no lag_seconds (it always lags half the kernel)")
        names: list[str] = []
        for kind in ("pos", "vel", "acc"):
            names += [f"{kind}_{j}_{ax}" for j in self.joints for ax in "xy"]
        names += [f"angle_{v}" for _, v, _ in ANGLES]
        names += ["root_vel_x", "root_vel_y"]
        names += [f"vis_{j}" for j in self.joints]
        object.__setattr__(self, "channels", tuple(names))

    @property
    def lag_frames(self) -> int:
        """:attr:`latency_seconds` in frames of the ``interp_rate`` grid."""
        if self.lag_seconds is None:
            return (int(round(self.kernel_seconds * self.interp_rate)) | 1) // 2
        return int(round(self.lag_seconds * self.interp_rate))

    @property
    def latency_seconds(self) -> float:
        """How far the window's last frame lags the newest frame (``lag_seconds``, or half the
        filter kernel)."""
        return self.lag_frames / self.interp_rate

    @property
    def window_frames(self) -> int:
        return int(round(self.window_seconds * self.rate))

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("channels")
        d["joints"] = list(self.joints)
        d["num_channels"] = self.num_channels
        d["window_frames"] = self.window_frames
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        keys = {"rate", "window_seconds", "cutoff_hz", "interp_rate", "kernel_seconds",
                "context_seconds", "max_gap_seconds", "min_valid_fraction", "lag_seconds", "version"}
        version = d.get("version", FEATURE_VERSION)
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"model uses feature version {version}, this edgerec computes versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}; retrain the model or install the matching edgerec"
            )
        if version == 1 and d.get("lag_seconds") is not None:
            raise ValueError("a feature-version-1 spec has no lag_seconds; the model card is inconsistent")
        if version >= 2 and "lag_seconds" not in d:
            raise ValueError("a feature-version-2 spec must say its lag_seconds; the model card is inconsistent")
        args = {k: d[k] for k in keys if k in d}
        args.setdefault("lag_seconds", None)  # version 1 always used the full lag
        return cls(**args, joints=tuple(d.get("joints", BODY_JOINTS)))


# --------------------------------------------------------------------------- the paper


def paper_pose_features(points: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """The paper's two pose values: mean distance landmark 0-1 and mean angle at landmark 1.

    Follows the paper's listing exactly (``v1 = p1 - p0``, ``v2 = p1 - p2``, arccos of the
    normalised dot product, then the mean over frames). Frames where any of the three
    landmarks is missing are skipped; if none has all three, both values are NaN.
    """
    p = np.asarray(points, dtype=np.float64)
    if mask is not None:
        keep = np.asarray(mask)[:, :3].all(axis=1)
        p = p[keep]
    if len(p) == 0:
        return np.full(2, np.nan, dtype=np.float32)
    distances = np.sqrt(np.sum((p[:, 0, :] - p[:, 1, :]) ** 2, axis=-1))
    v1 = p[:, 1, :] - p[:, 0, :]
    v2 = p[:, 1, :] - p[:, 2, :]
    denom = np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1)
    cos = np.clip(np.sum(v1 * v2, axis=-1) / np.maximum(denom, 1e-12), -1.0, 1.0)
    angles = np.arccos(cos)
    return np.array([distances.mean(), angles.mean()], dtype=np.float32)


def paper_vector(pose_features: np.ndarray, mean_log_mel: np.ndarray) -> np.ndarray:
    """The paper's per-clip vector: ``np.concatenate([pose_features_mean, log_spectrogram_mean])``."""
    return np.concatenate([np.asarray(pose_features, np.float32), np.asarray(mean_log_mel, np.float32)])


# ------------------------------------------------------------- time base and filtering


def lowpass_kernel(spec: FeatureSpec) -> np.ndarray:
    """Windowed-sinc (Blackman) low-pass at ``cutoff_hz`` for the ``interp_rate`` grid, sum 1."""
    n = int(round(spec.kernel_seconds * spec.interp_rate)) | 1  # odd: zero phase
    t = (np.arange(n) - n // 2) / spec.interp_rate
    h = 2 * spec.cutoff_hz * np.sinc(2 * spec.cutoff_hz * t) * np.blackman(n)
    return h / h.sum()


def _interp_joint(t_raw: np.ndarray, x_raw: np.ndarray, ok: np.ndarray, grid: np.ndarray,
                  max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of one joint's (T, 2) track onto ``grid`` over bridged gaps."""
    tv = t_raw[ok]
    out = np.zeros((len(grid), x_raw.shape[1]))
    valid = np.zeros(len(grid), dtype=bool)
    if len(tv) == 0:
        return out, valid
    xv = x_raw[ok]
    if len(tv) == 1:
        near = np.abs(grid - tv[0]) <= max_gap / 2
        out[near] = xv[0]
        return out, near
    idx = np.searchsorted(tv, grid)  # tv[idx-1] < g <= tv[idx]
    lo = np.clip(idx - 1, 0, len(tv) - 1)
    hi = np.clip(idx, 0, len(tv) - 1)
    gap = tv[hi] - tv[lo]
    inside = (idx > 0) & (idx < len(tv)) & (gap <= max_gap)
    exact = np.isclose(grid, tv[hi]) | np.isclose(grid, tv[lo])
    # one frame period of grace at either end, so a window ending at the last frame is valid
    period = float(np.median(np.diff(tv)))
    edge = ((grid < tv[0]) & (tv[0] - grid <= period)) | ((grid > tv[-1]) & (grid - tv[-1] <= period))
    valid = inside | exact | edge
    for d in range(x_raw.shape[1]):
        out[:, d] = np.interp(grid, tv, xv[:, d])
    return out, valid


def resample_window(times: np.ndarray, xy: np.ndarray, mask: np.ndarray, t_end: float,
                    spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Band-limit and resample raw frames to the window ending at ``t_end``.

    ``times`` (T,), ``xy`` (T, J, 2) and ``mask`` (T, J) are raw frames at any rate, up to
    ``t_end`` (the newest frame; later frames are ignored, since a device has none). Returns
    (N, J, 2) positions and an (N, J) validity mask on the uniform grid of
    ``spec.window_frames`` frames at ``spec.rate`` whose last frame is at
    ``t_end - spec.latency_seconds``: the filter needs half its kernel of newer frames to be
    a true low-pass at the window's end; version 1 waits for all of them, version 2 for
    ``spec.lag_seconds`` and renormalises the rest. The filter is a normalised convolution
    (``conv(x*v) / conv(v)``), so invalid frames, the missing future and the window edges
    are handled the same way in training and on the device.
    """
    kernel = lowpass_kernel(spec)
    half = len(kernel) // 2
    step = int(round(spec.interp_rate / spec.rate))
    n_out = spec.window_frames
    n_ctx = int(round(spec.context_seconds * spec.interp_rate))
    n_span = (n_out - 1) * step + 1
    n_fine = n_ctx + n_span + spec.lag_frames
    grid = t_end - (np.arange(n_fine)[::-1]) / spec.interp_rate
    lo = np.searchsorted(times, grid[0] - spec.max_gap_seconds, side="left")
    hi = np.searchsorted(times, t_end + 1e-9, side="right")
    t_raw, x_raw, m_raw = times[lo:hi], xy[lo:hi], mask[lo:hi]
    num_joints = xy.shape[1]
    fine = np.zeros((n_fine, num_joints, 2))
    fvalid = np.zeros((n_fine, num_joints), dtype=bool)
    for j in range(num_joints):
        fine[:, j], fvalid[:, j] = _interp_joint(t_raw, x_raw[:, j], m_raw[:, j], grid, spec.max_gap_seconds)
    v = fvalid.astype(np.float64)
    num = np.empty_like(fine)
    den = np.empty_like(v)
    # pad with zeros (= unknown), then a 'valid' convolution keeps the grid's length
    for j in range(num_joints):
        vj = np.pad(v[:, j], half)
        den[:, j] = np.convolve(vj, kernel, mode="valid")
        for d in range(2):
            num[:, j, d] = np.convolve(np.pad(fine[:, j, d] * v[:, j], half), kernel, mode="valid")
    keep = slice(n_ctx, n_ctx + n_span, step)
    den_k = den[keep]
    ok = (den_k >= spec.min_valid_fraction) & fvalid[keep]
    out = np.where(ok[..., None], num[keep] / np.maximum(den_k, 1e-9)[..., None], 0.0)
    return out.astype(np.float32), ok


# ------------------------------------------------------------ joints and normalisation


def body_points(points: np.ndarray, mask: np.ndarray, joints: tuple[str, ...] = BODY_JOINTS
                ) -> tuple[np.ndarray, np.ndarray]:
    """Select the representation's joints (deriving the head centre) from (T, 33, >=2) landmarks."""
    pts = np.asarray(points)[..., :2]
    m = np.asarray(mask, dtype=bool)
    out = np.zeros((len(pts), len(joints), 2), dtype=np.float64)
    ok = np.zeros((len(pts), len(joints)), dtype=bool)
    for k, name in enumerate(joints):
        if name != "head":
            out[:, k] = pts[:, LANDMARK[name]]
            ok[:, k] = m[:, LANDMARK[name]]
            continue
        for cand in HEAD_CANDIDATES:
            ids = [LANDMARK[c] for c in cand]
            have = m[:, ids].all(axis=1) & ~ok[:, k]
            if have.any():
                out[have, k] = pts[have][:, ids].mean(axis=1)
                ok[have, k] = True
    return out, ok


def _pair_mid(x: np.ndarray, ok: np.ndarray, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint of joints a and b per frame, or whichever one is visible."""
    ia, ib = _J[a], _J[b]
    both = ok[:, ia] & ok[:, ib]
    mid = np.where(both[:, None], (x[:, ia] + x[:, ib]) / 2,
                   np.where(ok[:, ia, None], x[:, ia], x[:, ib]))
    return mid, ok[:, ia] | ok[:, ib]


def normalise_window(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Hip-centre each frame and scale by the window's median torso length.

    Returns the normalised (N, J, 2) joints, the hip centre track (N, 2) in torso units
    (for the root velocity) and the scale. When no hip is seen (an upper-body view), the
    centre is placed one torso length below the shoulders, the torso length estimated from
    the shoulder width.
    """
    shoulder, s_ok = _pair_mid(x, ok, "left_shoulder", "right_shoulder")
    hip, h_ok = _pair_mid(x, ok, "left_hip", "right_hip")
    both = s_ok & h_ok
    if both.any():
        scale = float(np.median(np.linalg.norm(shoulder[both] - hip[both], axis=1)))
    else:
        widths = ok[:, _J["left_shoulder"]] & ok[:, _J["right_shoulder"]]
        if widths.any():
            sw = np.linalg.norm(x[widths, _J["left_shoulder"]] - x[widths, _J["right_shoulder"]], axis=1)
            scale = float(np.median(sw)) * SHOULDER_TO_TORSO
        else:
            scale = 0.0
    if not scale > 1e-6:
        return np.zeros_like(x), np.zeros((len(x), 2)), 0.0
    centre = np.where(h_ok[:, None], hip, shoulder + np.array([0.0, scale]))
    have_centre = h_ok | s_ok
    if have_centre.any() and not have_centre.all():
        idx = np.arange(len(x))
        for d in range(2):
            centre[:, d] = np.interp(idx, idx[have_centre], centre[have_centre, d])
    norm = (x - centre[:, None, :]) / scale
    norm[~ok] = 0.0
    return norm, centre / scale, scale


def _angles(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(x), len(ANGLES)))
    valid = np.zeros((len(x), len(ANGLES)), dtype=bool)
    for k, (a, v, b) in enumerate(ANGLES):
        ia, iv, ib = _J[a], _J[v], _J[b]
        r1, r2 = x[:, ia] - x[:, iv], x[:, ib] - x[:, iv]
        n = np.linalg.norm(r1, axis=1) * np.linalg.norm(r2, axis=1)
        good = ok[:, ia] & ok[:, iv] & ok[:, ib] & (n > 1e-9)
        cos = np.clip(np.sum(r1 * r2, axis=1) / np.maximum(n, 1e-9), -1, 1)
        out[:, k] = np.where(good, np.arccos(cos) / np.pi, 0.0)
        valid[:, k] = good
    return out, valid


def _compress(v: np.ndarray) -> np.ndarray:
    """Signed log1p: keeps small motion linear and tames the heavy tails of mocap glitches."""
    return np.sign(v) * np.log1p(np.abs(v))


def frame_features(x: np.ndarray, ok: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(N, C) per-frame channels from a resampled window of (N, J, 2) joints."""
    norm, root, scale = normalise_window(x, ok)
    if scale == 0.0:
        return np.zeros((len(x), spec.num_channels), dtype=np.float32)
    dt = 1.0 / spec.rate
    okf = ok.astype(np.float64)[..., None]
    vel = np.gradient(norm, dt, axis=0) * okf
    acc = np.gradient(vel, dt, axis=0) * okf
    # a neighbour that is invalid makes the finite difference meaningless: zero it
    nb_ok = ok.copy()
    nb_ok[1:] &= ok[:-1]
    nb_ok[:-1] &= ok[1:]
    vel[~nb_ok] = 0.0
    acc[~nb_ok] = 0.0
    angles, _ = _angles(x, ok)
    root_vel = np.gradient(root, dt, axis=0)
    n = len(x)
    feats = np.concatenate(
        [norm.reshape(n, -1), _compress(vel).reshape(n, -1), _compress(acc).reshape(n, -1), angles,
         _compress(root_vel),
         ok.astype(np.float64)],
        axis=1,
    )
    return feats.astype(np.float32)


# ------------------------------------------------------------------ sequences to windows


@dataclass(frozen=True)
class Track:
    """A sequence reduced to what windows need: times and 2D body joints in pixels."""

    times: np.ndarray
    xy: np.ndarray
    ok: np.ndarray


def track_from_image_sequence(seq: PoseSequence, joints: tuple[str, ...] = BODY_JOINTS) -> Track:
    """Body joints of an image-frame sequence (pixels, aspect ratio already correct)."""
    if seq.frame != "image":
        raise ValueError(f"{seq.clip_id}: project a world-frame sequence to the image first")
    xy, ok = body_points(seq.points, seq.mask, joints)
    return Track(np.asarray(seq.times, np.float64), xy, ok)


def window_features(track: Track, t_end: float, spec: FeatureSpec) -> tuple[np.ndarray, float]:
    """The model input for the window ending at ``t_end``: (N, C) and the valid fraction.

    The valid fraction (frames where the hips or shoulders were seen) lets callers skip
    windows with no dancer instead of classifying an empty window.
    """
    x, ok = resample_window(track.times, track.xy, track.ok, t_end, spec)
    core = ok[:, [_J["left_shoulder"], _J["right_shoulder"], _J["left_hip"], _J["right_hip"]]]
    valid = float(core.any(axis=1).mean())
    return frame_features(x, ok, spec), valid


def window_ends(duration: float, spec: FeatureSpec, hop_seconds: float, start: float = 0.0) -> np.ndarray:
    """Newest-frame times ``t_end`` of the windows that fit in a clip, every ``hop`` seconds."""
    first = start + spec.window_seconds - 1.0 / spec.rate + spec.latency_seconds
    if duration - 1.0 / spec.rate < first:
        return np.zeros(0)
    return np.arange(first, duration - 1.0 / spec.rate + 1e-9, hop_seconds)
