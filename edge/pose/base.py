"""The pose stage's interface: one frame in, 33 MediaPipe landmarks (or nothing) out.

Every implementation (MediaPipe's legacy solution, the native BlazePose on LiteRT) returns
the same :class:`PoseResult`, in the layout of the reference landmark files: normalised
image x and y, MediaPipe's relative z, and visibility, so the runtime, the recorded
``--poses`` files and the tests all speak one format.
"""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

import numpy as np

# PoseResult is a type every stage passes on (sources replay recorded ones), so it lives in core.
from edge.core.schema import NUM_LANDMARKS, PoseResult

__all__ = ["NUM_LANDMARKS", "PoseEstimator", "PoseResult"]


@runtime_checkable
class PoseEstimator(Protocol):
    """A stateful per-video pose stage (it may track the person from frame to frame)."""

    name: str

    def process(self, frame_bgr: np.ndarray, timestamp_s: Optional[float] = None) -> PoseResult:
        """Landmarks for one BGR uint8 frame (H, W, 3), as OpenCV decodes it.

        ``timestamp_s`` (the frame's time) drives temporal smoothing; None means the
        previous frame's time plus 1/30 s.
        """
        ...

    def reset(self) -> None:
        """Forget tracking state (a new video, or after a long gap)."""
        ...

    def close(self) -> None:
        """Release the runtime."""
        ...
