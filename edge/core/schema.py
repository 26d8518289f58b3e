"""The contract between data, training and the device: landmark order, the pose sequence type.

Every source (motion capture, 2D keypoints, MediaPipe on a camera) is turned into one
:class:`PoseSequence` laid out in MediaPipe BlazePose's 33-landmark order, with a mask for
the landmarks a source does not have. Features, training and the runtime only ever see
this type, so a new source needs a loader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

#: MediaPipe BlazePose landmark names, in MediaPipe's order (index = landmark id).
LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = len(LANDMARK_NAMES)
LANDMARK = {name: i for i, name in enumerate(LANDMARK_NAMES)}

#: Coordinate frames a PoseSequence can be in.
#: ``world``: metres, right-handed, y up (motion capture); projected to 2D by a camera.
#: ``image``: pixels, x right, y down, origin top-left, square pixels (2D keypoints, camera).
FRAMES = ("world", "image")


@dataclass(frozen=True)
class Audio:
    """Mono audio that accompanies a pose sequence (the song danced to)."""

    samples: np.ndarray  # float32, (n,)
    sample_rate: int

    @property
    def seconds(self) -> float:
        return float(len(self.samples)) / float(self.sample_rate)


@dataclass(frozen=True)
class PoseSequence:
    """One dancer's landmarks over time, in MediaPipe's 33-landmark order.

    ``points`` is (T, 33, 3) float32. In the ``image`` frame the third coordinate is unused
    (zero) and x, y are pixels of a frame of ``image_size`` (width, height), so the aspect
    ratio is already correct. ``mask`` is (T, 33) bool: False where the source has no such
    landmark or the landmark was not seen in that frame. ``times`` are seconds from the
    start of the clip, strictly increasing (a variable frame rate is allowed); ``fps`` is
    the nominal rate the source was recorded at.

    Audio is referenced, not loaded (``audio_path``; the dance starts ``audio_offset``
    seconds into the song), because decoding every song is slow and most consumers of a
    pose sequence never need it.
    """

    points: np.ndarray
    mask: np.ndarray
    times: np.ndarray
    fps: float
    frame: str
    label: str
    group: str
    source: str
    clip_id: str
    path: str = ""
    image_size: Optional[tuple[int, int]] = None
    audio_path: Optional[str] = None
    audio_offset: float = 0.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = len(self.points)
        if self.points.shape != (t, NUM_LANDMARKS, 3):
            raise ValueError(f"{self.clip_id}: points must be (T, 33, 3), got {self.points.shape}")
        if self.mask.shape != (t, NUM_LANDMARKS):
            raise ValueError(f"{self.clip_id}: mask must be (T, 33), got {self.mask.shape}")
        if self.times.shape != (t,):
            raise ValueError(f"{self.clip_id}: times must be (T,), got {self.times.shape}")
        if t > 1 and not np.all(np.diff(self.times) > 0):
            raise ValueError(f"{self.clip_id}: times must be strictly increasing")
        if self.frame not in FRAMES:
            raise ValueError(f"{self.clip_id}: frame must be one of {FRAMES}, got {self.frame!r}")
        if not self.fps > 0:
            raise ValueError(f"{self.clip_id}: fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(len(self.points))

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (one frame period past the last timestamp)."""
        if self.num_frames == 0:
            return 0.0
        return float(self.times[-1] - self.times[0]) + 1.0 / self.fps

    @property
    def present(self) -> np.ndarray:
        """(33,) bool: landmarks this source provides in at least one frame."""
        return self.mask.any(axis=0)


#: Music-to-Dance folder-name letter -> style (Tang et al. 2018: ``DANCE_C_1`` is cha-cha).
#: Kept here, on the device side, because both the training loader and ``edgerec catalog
#: build --labels-from-dataset`` read styles from these folder names.
MUSIC2DANCE_STYLE_LETTERS = {"C": "cha-cha", "R": "rumba", "W": "waltz", "T": "tango"}


def music2dance_style(folder_name: str) -> Optional[str]:
    """The style a ``DANCE_<C|R|W|T>_<n>`` folder name encodes, else ``None``."""
    parts = folder_name.split("_")
    if len(parts) >= 2 and parts[0].upper() == "DANCE":
        return MUSIC2DANCE_STYLE_LETTERS.get(parts[1].upper())
    return None


def uniform_times(num_frames: int, fps: float) -> np.ndarray:
    """Timestamps of ``num_frames`` frames at a constant ``fps``, starting at 0."""
    return np.arange(num_frames, dtype=np.float64) / float(fps)


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
