"""Where frames come from: a camera (OpenCV or Picamera2), a video file or stream, or a
recorded landmark file replayed as if a camera had seen it, all behind :class:`FrameSource`;
and where sound comes from (a video's sound track, an audio file, a microphone), behind
:class:`AudioSource` (:mod:`edge.sources.audio`).

May import: :mod:`edge.core`. Owns the landmark file format (:mod:`edge.sources.posefile`)
because recorded landmarks are a source like any other.
"""

from edge.sources.frames import (
    LIVE_SCHEMES,
    CameraSource,
    Frame,
    FrameSource,
    Picamera2Source,
    PoseFileSource,
    SourceError,
    VideoSource,
    camera_available,
    open_source,
)
from edge.sources.audio import (
    AudioChunk,
    AudioError,
    AudioSource,
    FileAudioSource,
    MicAudioSource,
    NoSoundTrack,
    VideoAudioSource,
    open_audio,
)

__all__ = ["LIVE_SCHEMES", "CameraSource", "Frame", "FrameSource", "Picamera2Source", "PoseFileSource",
           "SourceError", "VideoSource", "camera_available", "open_source",
           "AudioChunk", "AudioError", "AudioSource", "FileAudioSource", "MicAudioSource", "NoSoundTrack",
           "VideoAudioSource", "open_audio"]
