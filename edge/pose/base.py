"""The pose stage's interface: one frame in, 33 MediaPipe landmarks (or nothing) out.

Every implementation (MediaPipe's legacy solution, the native BlazePose on LiteRT) returns
the same :class:`PoseResult`, in the layout of the reference landmark files: normalised
image x and y, MediaPipe's relative z, and visibility, so the runtime, the recorded
``--poses`` files and the tests all speak one format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

import numpy as np

NUM_LANDMARKS = 33


@dataclass(frozen=True)
class PoseResult:
    """What a pose stage found in one frame.

    ``landmarks``: float32 (33, 4) normalised x, y (0..1 across the image width/height),
    relative z, visibility (0..1); ``None`` when no person was found.
    ``world``: float32 (33, 3) metres, hip-centred, when the implementation provides it.
    ``detected``: True when the person detector ran on this frame (False while tracking).
    """

    landmarks: Optional[np.ndarray]
    world: Optional[np.ndarray] = None
    detected: bool = False

    @property
    def found(self) -> bool:
        return self.landmarks is not None


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
