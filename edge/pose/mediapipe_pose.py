"""MediaPipe's own pose stage (legacy ``solutions.pose``, the "full" model), for comparison.

MediaPipe 0.10.x wheels ship the detector and the "full" landmark model, so this runs
offline; it needs numpy<2 and protobuf<5 (``pip install 'edgerec[mediapipe]'``).
``import mediapipe`` drags in TensorFlow through its audio tasks; that import is blocked
while MediaPipe loads (the pose output is bit-identical) so the device path stays free of
TensorFlow and starts in well under a second.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from edge.core.optional import require
from edge.pose.base import NUM_LANDMARKS, PoseResult


def _import_mediapipe() -> Any:
    blocked = "tensorflow" not in sys.modules
    if blocked:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        return require("mediapipe", "mediapipe", "mediapipe==0.10.14")
    finally:
        if blocked and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]


class MediaPipePose:
    """``mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1)`` per stream."""

    name = "mediapipe"

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 smooth: bool = True):
        self._mp = _import_mediapipe()
        self._kwargs = dict(static_image_mode=False, model_complexity=1, smooth_landmarks=smooth,
                            min_detection_confidence=min_detection_confidence,
                            min_tracking_confidence=min_tracking_confidence)
        self._pose = self._mp.solutions.pose.Pose(**self._kwargs)

    def process(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> PoseResult:
        cv2 = require("cv2", "edge", "opencv-python-headless")
        res = self._pose.process(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
        if res.pose_landmarks is None:
            return PoseResult(None)
        lm = np.array([[p.x, p.y, p.z, p.visibility] for p in res.pose_landmarks.landmark], np.float32)
        world = None
        if res.pose_world_landmarks is not None:
            world = np.array([[p.x, p.y, p.z] for p in res.pose_world_landmarks.landmark], np.float32)
        assert lm.shape == (NUM_LANDMARKS, 4)
        return PoseResult(lm, world)

    def reset(self) -> None:
        self._pose.close()
        self._pose = self._mp.solutions.pose.Pose(**self._kwargs)

    def close(self) -> None:
        self._pose.close()
