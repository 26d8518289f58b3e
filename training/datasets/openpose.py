"""OpenPose BODY_25 keypoints, one JSON file per frame (the most common format in dance research).

Layout: ``<style>/<dancer>/json/frame-NNNNNN.json`` (or ``*_keypoints.json``, OpenPose's
own default names) with a ``meta.json`` in the dancer's folder giving ``fps``, ``width``
and ``height``; the label is the style folder, the split group the dancer. Each frame file
is OpenPose's standard output, ``{"people": [{"pose_keypoints_2d": [x, y, c] * 25}]}`` in
pixels; ``(0, 0, 0)`` marks a keypoint not found. When several people are in a frame the
one nearest the previous frame's choice is kept (the largest, confident one to start),
so a bystander cannot steal the track for a frame.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np

from edge.core.errors import UserError
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times

from .files import is_regular_file, numeric_array, read_json

META_NAME = "meta.json"
#: BODY_25 index -> MediaPipe landmark name (neck, mid hip and the small toes have none).
BODY25_TO_MEDIAPIPE: dict[int, str] = {
    0: "nose", 2: "right_shoulder", 3: "right_elbow", 4: "right_wrist",
    5: "left_shoulder", 6: "left_elbow", 7: "left_wrist", 9: "right_hip", 10: "right_knee",
    11: "right_ankle", 12: "left_hip", 13: "left_knee", 14: "left_ankle", 15: "right_eye",
    16: "left_eye", 17: "right_ear", 18: "left_ear", 19: "left_foot_index", 21: "left_heel",
    22: "right_foot_index", 24: "right_heel",
}
#: Keypoints OpenPose reports below this confidence are treated as not seen (its own
#: renderer draws from 0.05; a little higher drops the flickering guesses).
CONFIDENCE_THRESHOLD = 0.1
#: Largest frame rate and image side meta.json may give (larger: a damaged file).
MAX_FPS = 100_000.0
MAX_SIDE = 1_000_000
_META_FIX = "write the video's frame rate and size there"
_FRAME_FIX = 'expected {"people": [{"pose_keypoints_2d": [x, y, c] * 25}]}'


def frame_files(folder: Path) -> list[Path]:
    """The per-frame JSON files of one sequence folder, in frame order."""
    files = sorted(folder.glob("*.json"))
    return [f for f in files if f.name != META_NAME and is_regular_file(f)]


def find_sequences(root: Path) -> list[Path]:
    """Sequence folders (those with a ``meta.json`` regular file and a ``json/`` folder of
    frames) under ``root``."""
    return sorted(m.parent for m in Path(root).rglob(META_NAME)
                  if is_regular_file(m) and (m.parent / "json").is_dir())


def _meta_number(meta: dict, key: str, path: Path, integer: bool, limit: float) -> float:
    v = meta.get(key)
    if isinstance(v, str):  # "30" is accepted, as float() always did
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise UserError(path, f"needs numeric 'fps', 'width' and 'height' ({key}: {str(v)[:40]!r})", _META_FIX)
    if not 0 < v <= limit or (integer and v != int(v)):
        raise UserError(path, f"{key} must be a positive {'whole ' if integer else ''}number up to {limit:g}, "
                              f"got {v!r}", _META_FIX)
    return int(v) if integer else float(v)


def _read_meta(folder: Path) -> dict:
    path = folder / META_NAME
    meta = read_json(path, "OpenPose meta.json", _META_FIX)
    if not isinstance(meta, dict):
        raise UserError(path, f"needs numeric 'fps', 'width' and 'height' (a JSON object, not "
                              f"{type(meta).__name__})", _META_FIX)
    fps = _meta_number(meta, "fps", path, False, MAX_FPS)
    width = int(_meta_number(meta, "width", path, True, MAX_SIDE))
    height = int(_meta_number(meta, "height", path, True, MAX_SIDE))
    return {**meta, "fps": fps, "width": width, "height": height}


def _people(path: Path) -> list[np.ndarray]:
    try:
        data = read_json(path, "OpenPose frame", _FRAME_FIX)
    except UserError as exc:
        raise UserError(path, f"not an OpenPose BODY_25 frame ({exc.problem})", _FRAME_FIX) from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise UserError(path, "not an OpenPose BODY_25 frame (no \"people\" list)", _FRAME_FIX)
    out = []
    for i, person in enumerate(people):
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise UserError(path, f"not an OpenPose BODY_25 frame (person {i} has no pose_keypoints_2d)", _FRAME_FIX)
        kp = numeric_array(person["pose_keypoints_2d"], path, f"person {i}'s pose_keypoints_2d", _FRAME_FIX)
        if kp.size != 75:
            raise UserError(path, f"not an OpenPose BODY_25 frame (person {i}: {kp.size} values, BODY_25 has 75)",
                            _FRAME_FIX)
        kp = kp.reshape(25, 3)
        with np.errstate(invalid="ignore"):
            seen = np.isfinite(kp).all(axis=1) & (np.abs(kp[:, :2]) < 1e7).all(axis=1)
        out.append(np.where(seen[:, None], kp, 0.0))  # non-finite or absurd: not found (0, 0, 0)
    return out


def _pick(people: list[np.ndarray], previous: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """The person to follow: nearest the previous choice, else the most confident and largest."""
    if not people:
        return None
    seen = [p[:, 2] >= CONFIDENCE_THRESHOLD for p in people]
    if previous is not None:
        prev_ok = previous[:, 2] >= CONFIDENCE_THRESHOLD

        def dist(i: int) -> float:
            both = seen[i] & prev_ok
            return float(np.median(np.linalg.norm(people[i][both, :2] - previous[both, :2], axis=1))) \
                if both.any() else np.inf

        best = min(range(len(people)), key=dist)
        if np.isfinite(dist(best)):
            return people[best]

    def size(i: int) -> float:
        pts = people[i][seen[i], :2]
        return float(np.ptp(pts[:, 1]) * people[i][seen[i], 2].sum()) if len(pts) > 1 else 0.0

    return people[max(range(len(people)), key=size)]


def load_sequence(folder: str | Path, label: Optional[str] = None) -> PoseSequence:
    """Load one dancer's folder of OpenPose frames as an image-frame :class:`PoseSequence`."""
    folder = Path(folder)
    meta = _read_meta(folder)
    files = frame_files(folder / "json")
    if len(files) < 2:
        raise ValueError(f"{folder / 'json'}: needs at least 2 OpenPose frame files, found {len(files)}")
    points = np.zeros((len(files), NUM_LANDMARKS, 3), dtype=np.float32)
    mask = np.zeros((len(files), NUM_LANDMARKS), dtype=bool)
    previous: Optional[np.ndarray] = None
    for t, f in enumerate(files):
        person = _pick(_people(f), previous)
        if person is None:
            continue
        previous = person
        for k, name in BODY25_TO_MEDIAPIPE.items():
            x, y, c = person[k]
            if c >= CONFIDENCE_THRESHOLD:
                points[t, LANDMARK[name], :2] = (x, y)
                mask[t, LANDMARK[name]] = True
    dancer = str(meta.get("dancer") or folder.name)
    style = label if label is not None else folder.parent.name
    return PoseSequence(
        points=points,
        mask=mask,
        times=uniform_times(len(files), meta["fps"]),
        fps=meta["fps"],
        frame="image",
        label=style,
        group=f"dancer:{dancer.lower()}",
        source="openpose",
        clip_id=f"openpose:{style}/{folder.name}",
        path=str(folder),
        image_size=(meta["width"], meta["height"]),
        meta={"dancer": dancer, "real_video": True, "pose_found_fraction": float(mask.any(axis=1).mean())},
    )
