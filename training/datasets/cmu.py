"""Loader for CMU motion-capture BVH files (the ``cmu_salsa`` data), to a :class:`PoseSequence`.

A BVH file is a joint hierarchy (offsets from the parent, and the channels each joint
animates) followed by one line of channel values per frame. This module parses it by hand
(no BVH library: the format is small, and owning the parser means errors name the file and
the problem), runs forward kinematics vectorised over all frames at once, and maps the CMU
joint names onto MediaPipe BlazePose's 33 landmarks so the rest of edgerec sees the same
type as for every other source.

Conventions, checked against the real files (see ``tests/test_cmu.py``):

* Euler angles are degrees and compose in the order the CHANNELS line lists them: for
  ``Zrotation Xrotation Yrotation`` the local rotation is ``Rz @ Rx @ Ry``. A joint's global
  position is ``parent_position + parent_rotation @ (offset + translation)``.
* The CMU salsa files are already in metres (abdomen offset 0.16) with y up; the loader
  still estimates the unit from the rest-pose height so a centimetre or inch export of
  the same skeleton also comes out in metres. Caveat: this conversion retargets every
  subject onto one standard skeleton (60 and 61 have identical offsets) whose eyes are
  only ~1.13 m above its toes (a ~1.25 m figure), so absolute sizes are not the dancers'
  and differ from other sources: normalise body size before mixing sources.
* CMU's ``l*`` joints are the performer's own left, which is MediaPipe's ``left_*``.
* Subjects 60 and 61 are the two partners of one take, so ``60_07`` and ``61_07`` share
  the group ``cmu:take07`` and never end up on both sides of a split.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from edge.core.errors import UserError, reading
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times

from .files import read_text

PathLike = Union[str, Path]

_POSITION_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}
_ROTATION_CHANNELS = {"xrotation": 0, "yrotation": 1, "zrotation": 2}

#: CMU BVH joint name -> MediaPipe landmark name. For the index finger the first joint
#: name present wins (the fingertip end site if the file has it, else the middle phalanx).
CMU_TO_MEDIAPIPE: dict[str, tuple[str, ...]] = {
    "left_shoulder": ("lShldr",),
    "right_shoulder": ("rShldr",),
    "left_elbow": ("lForeArm",),
    "right_elbow": ("rForeArm",),
    "left_wrist": ("lHand",),
    "right_wrist": ("rHand",),
    "left_hip": ("lThigh",),
    "right_hip": ("rThigh",),
    "left_knee": ("lShin",),
    "right_knee": ("rShin",),
    "left_ankle": ("lFoot",),
    "right_ankle": ("rFoot",),
    "left_foot_index": ("lFoot_end",),
    "right_foot_index": ("rFoot_end",),
    "left_eye": ("leftEye",),
    "right_eye": ("rightEye",),
    "left_index": ("lIndex2_end", "lIndex2"),
    "right_index": ("rIndex2_end", "rIndex2"),
}


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A parsed BVH file: the skeleton, and the raw channel values of every frame.

    Joints are in file (depth-first) order, so a parent always precedes its children;
    End Sites are joints named ``<parent>_end`` with no channels. ``channels[j]`` names the
    channels of joint ``j`` in file order (lower case, e.g. ``"zrotation"``) and
    ``channel_start[j]`` is the column of the first one in ``motion``. Values are in the
    file's own units; :func:`forward_kinematics` multiplies lengths by ``scale``.
    """

    path: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) float64
    channels: tuple[tuple[str, ...], ...]
    channel_start: tuple[int, ...]
    motion: np.ndarray  # (T, C) float64
    frame_time: float

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        """Nominal frame rate: ``1 / frame_time``, snapped to a whole number when within 0.01%.

        Files write the period with six decimals (``0.008333`` for 120 fps), so the exact
        reciprocal (120.0048) would drift by a frame every ~3.5 minutes against the audio.
        """
        raw = 1.0 / self.frame_time
        nearest = round(raw)
        return float(nearest) if nearest > 0 and abs(raw - nearest) <= 1e-4 * raw else raw

    def index(self, name: str) -> int:
        """Index of joint ``name``; ``KeyError`` if the skeleton has no such joint."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.path}: no joint named {name!r}") from None

    def forward_kinematics(self, scale: float = 1.0) -> np.ndarray:
        """Global joint positions (T, J, 3); see :func:`forward_kinematics`."""
        return forward_kinematics(self, scale)


_FIX = "check that it is a BVH motion-capture file (re-download it if it is damaged)"


def _open_text(path: Path) -> str:
    """The file's text, gunzipped when it is gzip (detected by magic bytes, not the name);
    only a regular file is opened, and corrupt or truncated gzip data is a one-line error."""
    return read_text(path, "BVH file")


def _parse_hierarchy(
    path: Path, lines: list[tuple[int, str]]
) -> tuple[list[str], list[int], list[tuple[float, float, float]], list[tuple[str, ...]]]:
    """Parse the HIERARCHY section into names, parents, offsets and channels."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[tuple[float, float, float]] = []
    channels: list[tuple[str, ...]] = []
    is_end: list[bool] = []
    stack: list[int] = []  # indices of the joints whose braces are open
    pending: Optional[int] = None  # joint declared, waiting for its "{"
    seen_root = False

    def fail(lineno: int, what: str) -> ValueError:
        return ValueError(f"{path}: line {lineno}: {what}")

    for lineno, line in lines:
        tok = line.split()
        if not tok:
            continue
        key = tok[0].upper()
        if key in ("ROOT", "JOINT", "END") and pending is not None:
            raise fail(lineno, f"missing '{{' after {names[pending]!r}")
        if key in ("ROOT", "JOINT"):
            if key == "ROOT":
                if seen_root:
                    raise fail(lineno, "more than one ROOT")
                if stack:
                    raise fail(lineno, "ROOT inside another joint")
                seen_root = True
            elif not seen_root or not stack:
                raise fail(lineno, "JOINT outside the ROOT")
            if len(tok) < 2:
                raise fail(lineno, f"{tok[0]} without a name")
            parent = stack[-1] if stack else -1
            if parent >= 0 and is_end[parent]:
                raise fail(lineno, "JOINT inside an End Site")
            names.append(" ".join(tok[1:]))
            parents.append(parent)
            offsets.append((0.0, 0.0, 0.0))
            channels.append(())
            is_end.append(False)
            pending = len(names) - 1
        elif key == "END":
            if not stack or is_end[stack[-1]]:
                raise fail(lineno, "End Site outside a joint")
            parent = stack[-1]
            names.append(f"{names[parent]}_end")
            parents.append(parent)
            offsets.append((0.0, 0.0, 0.0))
            channels.append(())
            is_end.append(True)
            pending = len(names) - 1
        elif key == "{":
            if pending is None:
                raise fail(lineno, "'{' without a ROOT, JOINT or End Site")
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise fail(lineno, "unbalanced '}'")
            stack.pop()
        elif key == "OFFSET":
            if not stack or pending is not None:
                raise fail(lineno, "OFFSET outside a joint")
            try:
                vals = tuple(float(v) for v in tok[1:])
            except ValueError:
                raise fail(lineno, f"OFFSET is not numeric: {line.strip()!r}") from None
            if len(vals) != 3:
                raise fail(lineno, f"OFFSET needs 3 numbers, got {len(vals)}")
            offsets[stack[-1]] = vals  # type: ignore[assignment]
        elif key == "CHANNELS":
            if not stack or pending is not None:
                raise fail(lineno, "CHANNELS outside a joint")
            j = stack[-1]
            if is_end[j]:
                raise fail(lineno, "CHANNELS in an End Site")
            try:
                n = int(tok[1])
            except (IndexError, ValueError):
                raise fail(lineno, "CHANNELS without a count") from None
            chans = tuple(c.lower() for c in tok[2:])
            if len(chans) != n:
                raise fail(lineno, f"CHANNELS says {n} but lists {len(chans)}")
            for c in chans:
                if c not in _POSITION_CHANNELS and c not in _ROTATION_CHANNELS:
                    raise fail(lineno, f"unknown channel {c!r}")
            channels[j] = chans
        else:
            raise fail(lineno, f"unexpected {tok[0]!r} in HIERARCHY")
    if not seen_root:
        raise ValueError(f"{path}: no ROOT in HIERARCHY")
    if stack or pending is not None:
        raise ValueError(f"{path}: HIERARCHY ends with unclosed braces")
    return names, parents, offsets, channels


def read_bvh(path: PathLike) -> BvhMotion:
    """Parse a BVH file (plain or gzipped) into a :class:`BvhMotion`.

    Raises ``ValueError`` naming the file for anything malformed: no HIERARCHY/ROOT, bad
    braces, unknown channels, a missing or bad Frames/Frame Time, fewer or more data lines
    than ``Frames``, or a data line whose value count differs from the channel total.
    """
    path = Path(path)
    text = _open_text(path)
    with reading(path, "BVH file", _FIX):
        return _parse_bvh(path, text)


def _parse_bvh(path: Path, text: str) -> BvhMotion:
    lines = text.splitlines()
    first = next((i for i, l in enumerate(lines) if l.strip()), None)
    if first is None or lines[first].strip().upper() != "HIERARCHY":
        raise ValueError(f"{path}: not a BVH file (no HIERARCHY header)")
    motion_at = next((i for i in range(first + 1, len(lines)) if lines[i].strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise ValueError(f"{path}: no MOTION section")
    names, parents, offsets, channels = _parse_hierarchy(
        path, [(i + 1, lines[i]) for i in range(first + 1, motion_at)]
    )

    # MOTION header: "Frames: N" and "Frame Time: dt".
    rest = [(i + 1, lines[i]) for i in range(motion_at + 1, len(lines)) if lines[i].strip()]
    if len(rest) < 2:
        raise ValueError(f"{path}: MOTION section truncated (no Frames / Frame Time)")
    m_frames = re.fullmatch(r"\s*Frames:\s*(\d+)\s*", rest[0][1], re.IGNORECASE)
    if not m_frames:
        raise ValueError(f"{path}: line {rest[0][0]}: expected 'Frames: N', got {rest[0][1].strip()!r}")
    m_time = re.fullmatch(r"\s*Frame\s+Time:\s*(\S+)\s*", rest[1][1], re.IGNORECASE)
    try:
        frame_time = float(m_time.group(1)) if m_time else float("nan")
    except ValueError:
        frame_time = float("nan")
    if not frame_time > 0:
        raise ValueError(f"{path}: line {rest[1][0]}: expected a positive 'Frame Time: dt', got {rest[1][1].strip()!r}")
    num_frames = int(m_frames.group(1))

    data = rest[2:]
    num_channels = sum(len(c) for c in channels)
    if len(data) < num_frames:
        raise ValueError(f"{path}: MOTION truncated: header says {num_frames} frames, file has {len(data)}")
    if len(data) > num_frames:
        raise ValueError(f"{path}: MOTION has {len(data)} data lines but header says {num_frames} frames")
    for lineno, line in data:
        n = len(line.split())
        if n != num_channels:
            raise ValueError(f"{path}: line {lineno}: {n} values, expected {num_channels} channels")
    values = _parse_floats(path, "\n".join(line for _, line in data))
    if values.size != num_frames * num_channels:
        raise ValueError(f"{path}: MOTION has {values.size} values, expected {num_frames} frames of "
                         f"{num_channels} channels")
    motion = values.reshape(num_frames, num_channels)
    if not np.all(np.isfinite(motion)):
        raise ValueError(f"{path}: MOTION contains non-finite values")

    starts = np.concatenate([[0], np.cumsum([len(c) for c in channels])[:-1]]).astype(int)
    return BvhMotion(
        path=str(path),
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets, dtype=np.float64).reshape(len(names), 3),
        channels=tuple(channels),
        channel_start=tuple(int(s) for s in starts),
        motion=motion,
        frame_time=frame_time,
    )


def _parse_floats(path: Path, text: str) -> np.ndarray:
    """All whitespace-separated numbers in ``text`` as float64, in C (about 10x a Python loop).

    ``np.fromstring`` stops at the first non-number with only a warning; that warning is
    turned into a ``ValueError`` that names the offending token.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.float64, sep=" ")
        except (DeprecationWarning, ValueError):
            pass
    for tok in text.split():
        try:
            float(tok)
        except ValueError:
            raise ValueError(f"{path}: non-numeric value {tok!r} in MOTION") from None
    raise ValueError(f"{path}: unreadable MOTION data")


def _axis_rotations(axis: int, degrees: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation matrices about x (0), y (1) or z (2) by ``degrees`` (T,)."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((len(a), 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane rotated: y->z for x, z->x for y, x->y for z
    r[:, axis, axis] = 1.0
    r[:, i, i] = c
    r[:, j, j] = c
    r[:, i, j] = -s
    r[:, j, i] = s
    return r


def forward_kinematics(motion: BvhMotion, scale: float = 1.0) -> np.ndarray:
    """Global positions (T, J, 3) of every joint (End Sites included) in every frame.

    Rotations of each joint are computed for all frames at once; the loop runs over
    joints only. ``scale`` multiplies every length (offsets and translation channels), so
    ``scale=0.01`` turns a centimetre file into metres; rotations are unaffected.
    """
    t = motion.num_frames
    num_joints = len(motion.names)
    pos = np.empty((t, num_joints, 3))
    rot = np.empty((t, num_joints, 3, 3))
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    for j in range(num_joints):
        local_t = np.broadcast_to(motion.offsets[j] * scale, (t, 3)).copy()
        local_r: Optional[np.ndarray] = None
        start = motion.channel_start[j]
        for k, ch in enumerate(motion.channels[j]):
            col = motion.motion[:, start + k]
            if ch in _POSITION_CHANNELS:
                local_t[:, _POSITION_CHANNELS[ch]] += col * scale
            else:
                r = _axis_rotations(_ROTATION_CHANNELS[ch], col)
                local_r = r if local_r is None else local_r @ r
        p = motion.parents[j]
        if p < 0:
            pos[:, j] = local_t
            rot[:, j] = eye if local_r is None else local_r
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], local_t)
            rot[:, j] = rot[:, p] if local_r is None else rot[:, p] @ local_r
    return pos


def _rest_height(motion: BvhMotion) -> float:
    """Vertical extent of the skeleton in its rest pose (zero channels), in file units."""
    num_joints = len(motion.names)
    rest = np.zeros((num_joints, 3))
    for j in range(num_joints):
        p = motion.parents[j]
        rest[j] = motion.offsets[j] + (rest[p] if p >= 0 else 0.0)
    return float(rest[:, 1].max() - rest[:, 1].min())


def unit_scale(motion: BvhMotion) -> float:
    """Factor that turns the file's lengths into metres, judged from the rest-pose height.

    A person's rest skeleton (eyes or head to toes) spans roughly 1 to 2 m: under 3 units
    means metres, 30 to 90 inches, 90 to 300 centimetres. Anything else is not a human
    skeleton in a unit we know, so it raises rather than guess.
    """
    h = _rest_height(motion)
    if 0.3 <= h < 3.0:
        return 1.0
    if 30.0 <= h < 90.0:
        return 0.0254
    if 90.0 <= h < 300.0:
        return 0.01
    raise ValueError(f"{motion.path}: cannot tell the length unit (rest-pose height {h:.3g} units)")


#: Largest joint position (metres) a clip may reach; beyond it the file is damaged.
MAX_POSITION = 1e5

_NAME_RE = re.compile(r"^(\d+)_(\d+)$")


def _clip_parts(path: Path) -> tuple[str, str]:
    """(subject, take) from a CMU file name such as ``60_07.bvh.gz``."""
    stem = path.name
    for suffix in (".gz", ".bvh"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    m = _NAME_RE.match(stem)
    if not m:
        raise ValueError(f"{path}: file name is not CMU's SUBJECT_TAKE form (e.g. 60_07.bvh.gz)")
    return m.group(1), m.group(2)


def load_cmu_bvh(path: PathLike, label: str, scale: Optional[float] = None) -> PoseSequence:
    """Load one CMU BVH file as a world-frame :class:`PoseSequence` (metres, y up).

    Only the landmarks CMU's skeleton has are filled and masked True (shoulders, elbows,
    wrists, index fingers, hips, knees, ankles, toes, eyes). ``label`` comes from the
    caller (the file does not know the dance style). ``group`` is the take, shared by both
    partners (``60_07`` and ``61_07`` -> ``cmu:take07``) so splits keep a couple together.
    ``scale`` overrides the automatic unit detection (file units -> metres).
    """
    path = Path(path)
    subject, take = _clip_parts(path)
    motion = read_bvh(path)
    if motion.num_frames < 2:
        raise UserError(path, f"MOTION has {motion.num_frames} frame(s); a clip needs at least 2", _FIX)
    if scale is None:
        scale = unit_scale(motion)
    with np.errstate(over="ignore", invalid="ignore"):
        joints = forward_kinematics(motion, scale)
    if not np.isfinite(joints).all() or np.abs(joints).max() > MAX_POSITION:
        raise UserError(path, f"joint positions beyond {MAX_POSITION:g} m (values far too large for a skeleton)", _FIX)

    t = motion.num_frames
    points = np.zeros((t, NUM_LANDMARKS, 3), dtype=np.float32)
    mask = np.zeros((t, NUM_LANDMARKS), dtype=bool)
    name_to_index = {n: i for i, n in enumerate(motion.names)}
    for landmark, candidates in CMU_TO_MEDIAPIPE.items():
        j = next((name_to_index[c] for c in candidates if c in name_to_index), None)
        if j is None:
            continue
        points[:, LANDMARK[landmark]] = joints[:, j]
        mask[:, LANDMARK[landmark]] = True

    return PoseSequence(
        points=points,
        mask=mask,
        times=uniform_times(t, motion.fps),
        fps=motion.fps,
        frame="world",
        label=label,
        group=f"cmu:take{take}",
        source="cmu",
        clip_id=f"cmu:{subject}_{take}",
        path=str(path),
        meta={"subject": subject, "take": take},
    )
