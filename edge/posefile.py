"""Recorded MediaPipe landmark files: the ``--poses`` input and the reference oracle.

A landmark file is a float array (T, 33, 4) of normalised image x, y, relative z and
visibility, one row per decoded video frame, NaN where no pose was found (the layout
MediaPipe's legacy ``solutions.pose`` produces). The frame rate and image size come from
the video beside it when there is one, or from the caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from edge.schema import NUM_LANDMARKS, PoseSequence, uniform_times

#: Suffix that marks a landmark file; the style label is the stem before it.
LANDMARK_SUFFIX = "_mediapipe33.npy"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
#: Landmarks MediaPipe reports below this visibility are treated as not seen.
VISIBILITY_THRESHOLD = 0.5


def probe_video(path: Path) -> tuple[float, tuple[int, int]]:
    """Frame rate and (width, height) from a video's header, via OpenCV."""
    from edge._optional import require

    cv2 = require("cv2", "edge", "opencv-python-headless")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"{path}: cannot open video; check the file is a readable video")
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()
    if not fps > 0 or min(size) <= 0:
        raise ValueError(f"{path}: video header has no frame rate or size; re-encode the video")
    return fps, size


def companion_video(landmark_path: Path) -> Optional[Path]:
    """The video a landmark file was made from (same stem, a video suffix), if present."""
    stem = landmark_path.name[: -len(LANDMARK_SUFFIX)]
    for suffix in VIDEO_SUFFIXES:
        candidate = landmark_path.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return None


def load_landmark_file(
    path: str | Path,
    label: Optional[str] = None,
    fps: Optional[float] = None,
    image_size: Optional[tuple[int, int]] = None,
) -> PoseSequence:
    """Read a (T, 33, 4) MediaPipe landmark file into a :class:`PoseSequence` (image frame).

    ``fps`` and ``image_size`` default to the companion video's header; without a video
    they must be given, since normalised x and y mean nothing without the aspect ratio.
    """
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many types for bad files
        raise ValueError(f"{path}: not a readable .npy landmark file ({exc})") from exc
    if arr.ndim != 3 or arr.shape[1:] != (NUM_LANDMARKS, 4):
        raise ValueError(f"{path}: expected landmarks of shape (T, 33, 4), got {arr.shape}")
    if fps is None or image_size is None:
        video = companion_video(path)
        if video is None:
            raise ValueError(
                f"{path}: no video beside it to read the frame rate and size from; "
                "pass fps and image_size"
            )
        v_fps, v_size = probe_video(video)
        fps = fps or v_fps
        image_size = image_size or v_size
    width, height = image_size
    arr = arr.astype(np.float32)
    found = ~np.isnan(arr[..., 0])
    vis = np.nan_to_num(arr[..., 3], nan=0.0)
    mask = found & (vis >= VISIBILITY_THRESHOLD)
    points = np.zeros((len(arr), NUM_LANDMARKS, 3), dtype=np.float32)
    points[..., 0] = np.nan_to_num(arr[..., 0]) * width
    points[..., 1] = np.nan_to_num(arr[..., 1]) * height
    stem = path.name[: -len(LANDMARK_SUFFIX)] if path.name.endswith(LANDMARK_SUFFIX) else path.stem
    return PoseSequence(
        points=points,
        mask=mask,
        times=uniform_times(len(arr), fps),
        fps=float(fps),
        frame="image",
        label=label if label is not None else stem,
        group=f"video:{stem}",
        source="mediapipe",
        clip_id=f"video:{stem}",
        path=str(path),
        image_size=(int(width), int(height)),
        meta={"pose_found_fraction": float(found.any(axis=1).mean()), "visibility": vis},
    )
