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

import gzip
import json
from pathlib import Path

import numpy as np

from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, music2dance_style, uniform_times

NOMINAL_FPS = 25.0
#: A clip whose frames-per-span-second is below this is too sparse to be 25 fps.
SPAN_RATE_LIMIT = 12.0
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


def is_clip_dir(path: Path) -> bool:
    """True for a folder that holds a Music-to-Dance skeleton file."""
    return path.is_dir() and any((path / n).exists() for n in SKELETON_NAMES)


def label_for(folder: Path) -> str:
    style = music2dance_style(folder.name)
    if style is not None:
        return style
    raise ValueError(
        f"{folder}: folder name must look like DANCE_<C|R|W|T>_<n> to give the style"
    )


def _read_json(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            return json.load(fh)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc


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
    data = _read_json(skel_path)
    try:
        skel = np.asarray(data["skeletons"], dtype=np.float64)
        center = np.asarray(data["center"], dtype=np.float64)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{skel_path}: needs 'skeletons' (T,23,3) and 'center' (T,3) ({exc})") from exc
    if skel.ndim != 3 or skel.shape[1:] != (NUM_JOINTS, 3) or center.shape != (len(skel), 3):
        raise ValueError(
            f"{skel_path}: expected skeletons (T,23,3) and center (T,3), got {skel.shape} and {center.shape}"
        )
    if len(skel) < 2 or not np.isfinite(skel).all():
        raise ValueError(f"{skel_path}: fewer than 2 frames or non-finite coordinates")
    config_path = folder / "config.json"
    span = 0
    offset = 0.0
    if config_path.exists():
        cfg = _read_json(config_path)
        span = int(cfg.get("end_position", 0)) - int(cfg.get("start_position", 0))
        offset = int(cfg.get("start_position", 0)) / NOMINAL_FPS
    fps = frame_rate(len(skel), span)
    world = (skel + center[:, None, :]) / 100.0  # centimetres -> metres
    points = np.zeros((len(skel), NUM_LANDMARKS, 3), dtype=np.float32)
    mask = np.zeros((len(skel), NUM_LANDMARKS), dtype=bool)
    for src, name in JOINT_MAP.items():
        points[:, LANDMARK[name]] = world[:, src]
        mask[:, LANDMARK[name]] = True
    audio = next((p for p in sorted(folder.glob("audio.*"))), None)
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
