"""AIST++ street-dance 2D keypoints (COCO-17), as redistributed with standardised values.

Files are (T, 34) arrays of 17 (x, y) keypoints, standardised; pixels in the 1920x1080
camera frame are ``value * scale + mean`` with ``kps_scaler.json`` found in the file's
folder or any parent. 30 fps. The genre is the folder name. Each genre in the shared subset
comes from a single dancer, so genre and dancer are confounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from edge.core.errors import UserError
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times

from .files import is_regular_file, load_npy, numeric_array, read_json

FPS = 30.0
IMAGE_SIZE = (1920, 1080)
SCALER_NAME = "kps_scaler.json"
COCO_TO_MEDIAPIPE = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)


def find_scaler(path: Path) -> Optional[Path]:
    """The ``kps_scaler.json`` in the file's folder or the nearest parent, if any (regular
    files only)."""
    for parent in path.parents:
        candidate = parent / SCALER_NAME
        if is_regular_file(candidate):
            return candidate
    return None


_SCALER_FIX = f"{SCALER_NAME} must hold 'mean' and 'scale', two finite numbers each (x, y)"
_ARRAY_FIX = "AIST++ keypoint files are (T, 34) float arrays saved with numpy.save"


def load_clip(path: str | Path, label: Optional[str] = None) -> PoseSequence:
    """Load one AIST++ ``.npy`` keypoint file as an image-frame :class:`PoseSequence`."""
    path = Path(path)
    scaler_path = find_scaler(path)
    if scaler_path is None:
        raise ValueError(f"{path}: no {SCALER_NAME} in its folder or above; it is needed to undo the scaling")
    scaler = read_json(scaler_path, "AIST++ keypoint scaler", _SCALER_FIX)
    if not isinstance(scaler, dict) or "mean" not in scaler or "scale" not in scaler:
        raise UserError(scaler_path, "needs 'mean' and 'scale' of two values", _SCALER_FIX)
    mean = numeric_array(scaler["mean"], scaler_path, "'mean'", _SCALER_FIX)
    scale = numeric_array(scaler["scale"], scaler_path, "'scale'", _SCALER_FIX)
    if mean.shape != (2,) or scale.shape != (2,) or not (np.isfinite(mean).all() and np.isfinite(scale).all()):
        raise UserError(scaler_path, f"needs 'mean' and 'scale' of two finite values, got shapes {mean.shape} and "
                                     f"{scale.shape}", _SCALER_FIX)
    arr = load_npy(path, "AIST++ keypoint file", _ARRAY_FIX)
    if arr.ndim != 2 or arr.shape[1] != 34 or len(arr) < 2:
        raise ValueError(f"{path}: expected COCO-17 keypoints of shape (T, 34), got {arr.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        xy = arr.reshape(len(arr), 17, 2).astype(np.float64) * scale + mean
        # a keypoint is seen where it is finite and lands anywhere near the camera frame
        finite = (np.isfinite(xy) & (np.abs(xy) < 1e7)).all(axis=2)
    points = np.zeros((len(arr), NUM_LANDMARKS, 3), dtype=np.float32)
    mask = np.zeros((len(arr), NUM_LANDMARKS), dtype=bool)
    for k, name in enumerate(COCO_TO_MEDIAPIPE):
        points[:, LANDMARK[name], :2] = np.where(finite[:, k, None], xy[:, k], 0.0)
        mask[:, LANDMARK[name]] = finite[:, k]
    return PoseSequence(
        points=points,
        mask=mask,
        times=uniform_times(len(arr), FPS),
        fps=FPS,
        frame="image",
        label=label if label is not None else path.parent.name,
        group=f"aistpp:{path.stem}",
        source="aistpp",
        clip_id=f"aistpp:{path.stem}",
        path=str(path),
        image_size=IMAGE_SIZE,
        meta={"dancer": next((p for p in path.stem.split("_") if p.startswith("d")), "")},
    )
