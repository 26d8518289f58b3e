"""Music-to-Dance ballroom motion capture (Tang et al., ACM MM 2018).

Each clip is a folder ``DANCE_<S>_<n>`` with ``skeletons.json(.gz)`` (23 joints, root
relative, y up, centimetres, plus the root trajectory ``center``), ``config.json`` (the span
of the song, in 25 fps frames, that the dance covers) and, for most clips, the song.

Frame rate: the upstream README says 25 fps. That holds for cha-cha and rumba (their
skeleton lengths are round numbers and cropped, so the config span overstates them), but
not for waltz, whose sequences are about 4x shorter than their config span: a 12-frame
step period at 85-88 BPM in 3/4 time means about 5.9 fps, and the span agrees. So the rate
is taken from the span whenever the span says the clip cannot be 25 fps (a ratio below
:data:`SPAN_RATE_LIMIT`), and is 25 fps otherwise. ``tests/test_timing.py`` checks the
result against the music's own tempo.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from edge.core.errors import UserError
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, music2dance_style, uniform_times

from .files import is_regular_file, numeric_array, read_json

NOMINAL_FPS = 25.0
#: A clip whose frames-per-span-second is below this is too sparse to be 25 fps.
SPAN_RATE_LIMIT = 12.0
#: Largest coordinate (centimetres) a skeleton may have; a larger one is a damaged file.
MAX_COORDINATE = 1e6
#: Music-to-Dance joint index -> MediaPipe landmark name. The two head markers sit on the
#: sides of the head, so they stand in for the ears; 6/15 are hand markers (index finger).
JOINT_MAP = {
    0: "right_ear", 1: "left_ear",
    3: "right_shoulder", 4: "right_elbow", 5: "right_wrist", 6: "right_index",
    7: "right_hip", 8: "right_knee", 9: "right_ankle", 10: "right_heel", 11: "right_foot_index",
    12: "left_shoulder", 13: "left_elbow", 14: "left_wrist", 15: "left_index",
    16: "left_hip", 17: "left_knee", 18: "left_ankle", 19: "left_heel", 20: "left_foot_index",
}
NUM_JOINTS = 23
SKELETON_NAMES = ("skeletons.json.gz", "skeletons.json")
_FIX = "re-download the clip's folder (Music-to-Dance: skeletons.json(.gz) with 'skeletons' and 'center')"


def is_clip_dir(path: Path) -> bool:
    """True for a folder that holds a Music-to-Dance skeleton file (a regular file)."""
    return path.is_dir() and any(is_regular_file(path / n) for n in SKELETON_NAMES)


def label_for(folder: Path) -> str:
    style = music2dance_style(folder.name)
    if style is not None:
        return style
    raise ValueError(
        f"{folder}: folder name must look like DANCE_<C|R|W|T>_<n> to give the style"
    )


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path`` (gzipped or not); one-line error naming it otherwise."""
    data = read_json(path, what, _FIX)
    if not isinstance(data, dict):
        raise UserError(path, f"not a {what}: expected a JSON object, got {type(data).__name__}", _FIX)
    return data


def _position(cfg: dict[str, Any], key: str, path: Path) -> int:
    """A non-negative whole frame number from config.json (0 when absent)."""
    v = cfg.get(key, 0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v != int(v):
        raise UserError(path, f"{key} must be a non-negative frame number, got {str(v)[:40]!r}",
                        "fix or delete the clip's config.json")
    return int(v)


def frame_rate(length: int, span_frames: int) -> float:
    """The clip's true frame rate from its length and the song span it covers (see module doc)."""
    if span_frames <= 0:
        return NOMINAL_FPS
    span_rate = length * NOMINAL_FPS / span_frames
    return span_rate if span_rate < SPAN_RATE_LIMIT else NOMINAL_FPS


def load_clip(folder: str | Path) -> PoseSequence:
    """Load one ``DANCE_*`` folder as a world-frame :class:`PoseSequence` in metres."""
    folder = Path(folder)
    skel_path = next((folder / n for n in SKELETON_NAMES if (folder / n).exists()), None)
    if skel_path is None:
        raise ValueError(f"{folder}: no skeletons.json(.gz) in this folder")
    data = _read_json(skel_path, "Music-to-Dance skeleton file")
    missing = [k for k in ("skeletons", "center") if k not in data]
    if missing:
        raise UserError(skel_path, f"needs 'skeletons' (T,23,3) and 'center' (T,3); no {' or '.join(map(repr, missing))}",
                        _FIX)
    skel = numeric_array(data["skeletons"], skel_path, "'skeletons'", _FIX)
    center = numeric_array(data["center"], skel_path, "'center'", _FIX)
    if skel.ndim != 3 or skel.shape[1:] != (NUM_JOINTS, 3) or center.shape != (len(skel), 3):
        raise ValueError(
            f"{skel_path}: expected skeletons (T,23,3) and center (T,3), got {skel.shape} and {center.shape}"
        )
    if len(skel) < 2 or not np.isfinite(skel).all() or not np.isfinite(center).all():
        raise ValueError(f"{skel_path}: fewer than 2 frames or non-finite coordinates")
    if np.abs(skel).max() > MAX_COORDINATE or np.abs(center).max() > MAX_COORDINATE:
        raise UserError(skel_path, f"coordinates beyond {MAX_COORDINATE:g} cm: not a human skeleton", _FIX)
    config_path = folder / "config.json"
    span = 0
    offset = 0.0
    if config_path.exists():
        cfg = _read_json(config_path, "Music-to-Dance config.json")
        start = _position(cfg, "start_position", config_path)
        span = _position(cfg, "end_position", config_path) - start
        offset = start / NOMINAL_FPS
    fps = frame_rate(len(skel), span)
    world = (skel + center[:, None, :]) / 100.0  # centimetres -> metres
    points = np.zeros((len(skel), NUM_LANDMARKS, 3), dtype=np.float32)
    mask = np.zeros((len(skel), NUM_LANDMARKS), dtype=bool)
    for src, name in JOINT_MAP.items():
        points[:, LANDMARK[name]] = world[:, src]
        mask[:, LANDMARK[name]] = True
    audio = next((p for p in sorted(folder.glob("audio.*")) if is_regular_file(p)), None)
    return PoseSequence(
        points=points,
        mask=mask,
        times=uniform_times(len(skel), fps),
        fps=fps,
        frame="world",
        label=label_for(folder),
        group=f"music2dance:{folder.name}",
        source="music2dance",
        clip_id=f"music2dance:{folder.name}",
        path=str(folder),
        audio_path=str(audio) if audio else None,
        audio_offset=offset,
        meta={"span_frames": span, "nominal_fps": NOMINAL_FPS},
    )
