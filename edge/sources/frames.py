"""Frame sources: a camera, a video file or stream, or recorded landmarks, behind one interface.

Every source yields :class:`Frame` objects with a timestamp in seconds on the source's own
clock (the media time of a file, ``time.monotonic`` at capture for a live camera), so the
runtime can resample to the model's rate whatever the source delivers, at a steady or
variable rate.

**Live sources drop stale frames.** A camera (OpenCV or Picamera2) and a network stream
(RTSP/RTMP/UDP) are read by a capture thread that keeps only the newest frame: when the
pipeline is slower than the camera, old frames are overwritten rather than queued, so the
output never falls behind real time. :attr:`FrameSource.dropped` counts them. Files are read
in order and nothing is dropped, unless ``realtime=True`` asks a file to behave like a
camera (paced at its own frame rate, for benchmarks).

:class:`PoseFileSource` replays a recorded landmark file (``--poses``): each frame carries
its pose, so the pose stage is skipped. Tests use it and video files; nothing needs a
camera.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from edge.core.optional import require
from edge.core.errors import Expected
from edge.core.schema import PoseResult

#: URL schemes read as live streams (newest frame wins); http(s) is read like a file.
LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://", "srt://")


class SourceError(RuntimeError, Expected):
    """A source cannot be opened or read; the message is one line naming the fix."""


@dataclass(frozen=True)
class Frame:
    """One frame: BGR pixels (or None for replayed landmarks), its time and index.

    ``pose`` is set by sources that already know the landmarks (:class:`PoseFileSource`).
    ``capture_ms`` is how long the source took to deliver it (decode, or waiting on the
    camera).
    """

    index: int
    t: float
    image: Optional[np.ndarray]
    size: tuple[int, int]
    capture_ms: float = 0.0
    pose: Optional[PoseResult] = None


class FrameSource:
    """Base class: iterate to get frames; ``close()`` releases the device or file."""

    #: Human-readable description, for logs and the summary.
    description: str = ""
    #: Frames the source had to discard because the pipeline was busy (live sources).
    dropped: int = 0
    #: Nominal frame rate, if the source reports one.
    fps: Optional[float] = None
    #: True for sources where frames arrive in real time (cameras, streams).
    live: bool = False

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device (idempotent)."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cv2() -> Any:
    return require("cv2", "edge", "opencv-python-headless")


class _LatestFrame:
    """A capture thread that keeps only the newest frame from ``read()``.

    ``read`` returns (ok, image); the thread stops when it returns ok=False (end of stream,
    camera unplugged) or on :meth:`stop`. ``pace`` (seconds per frame) slows a file down to
    real time.
    """

    def __init__(self, read: Any, pace: Optional[float] = None):
        self._read = read
        self._pace = pace
        self._cond = threading.Condition()
        self._frame: Optional[tuple[np.ndarray, float]] = None
        self._ended = False
        self._stop = False
        self.dropped = 0
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="edgerec-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        n = 0
        try:
            while not self._stop:
                ok, image = self._read()
                t = time.monotonic()
                if not ok or image is None:
                    break
                if self._pace is not None:
                    due = start + n * self._pace
                    if due > t:
                        time.sleep(due - t)
                    t = start + n * self._pace
                n += 1
                with self._cond:
                    if self._frame is not None:
                        self.dropped += 1
                    self._frame = (image, t)
                    self._cond.notify()
        except BaseException as exc:  # noqa: BLE001 - surfaced to the reader
            self.error = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def get(self, timeout: float) -> Optional[tuple[np.ndarray, float]]:
        """The newest unread frame, waiting up to ``timeout`` s; None at the end of stream."""
        with self._cond:
            deadline = time.monotonic() + timeout
            while self._frame is None and not self._ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceError(f"no frame for {timeout:.0f} s: the camera or stream stopped "
                                      "delivering; check the connection")
                self._cond.wait(left)
            item, self._frame = self._frame, None
            return item

    def stop(self) -> None:
        self._stop = True
        self._thread.join(timeout=2.0)


def _live_frames(grabber: _LatestFrame, timeout: float, source: FrameSource,
                 quiet_timeout: bool) -> Iterator[Frame]:
    """Frames from a capture thread, newest first, timestamps from the first frame.

    ``quiet_timeout``: a device that stops delivering (unplugged camera) ends the stream
    cleanly instead of raising.
    """
    index, t0 = 0, None
    while True:
        wait = time.perf_counter()
        try:
            item = grabber.get(timeout)
        except SourceError:
            if quiet_timeout:
                return
            raise
        source.dropped = grabber.dropped
        if item is None:
            if grabber.error is not None and not quiet_timeout:
                raise SourceError(f"{source.description}: reading failed ({grabber.error})")
            return
        image, t = item
        t0 = t if t0 is None else t0
        h, w = image.shape[:2]
        yield Frame(index, t - t0, image, (w, h), (time.perf_counter() - wait) * 1e3)
        index += 1


class _OpenCVSource(FrameSource):
    """An OpenCV capture, optionally read by a capture thread; ``close`` releases both."""

    cap: Any = None
    _grabber: Optional[_LatestFrame] = None

    def close(self) -> None:
        if self._grabber is not None:
            self._grabber.stop()
            self._grabber = None
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class VideoSource(_OpenCVSource):
    """A video file, an HTTP(S) URL or a live network stream, read by OpenCV.

    Files give every frame in order with its media timestamp; live streams (and files with
    ``realtime=True``) go through a capture thread that drops stale frames.
    """

    def __init__(self, path_or_url: str | os.PathLike, realtime: bool = False,
                 timeout: float = 10.0):
        cv2 = _cv2()
        self.target = str(path_or_url)
        is_url = "://" in self.target
        if not is_url and not Path(self.target).is_file():
            raise SourceError(f"{self.target}: video file not found; check the path")
        self.cap = cv2.VideoCapture(self.target)
        if not self.cap.isOpened():
            raise SourceError(f"{self.target}: cannot open this video; check that it is a video "
                              "file or stream OpenCV/FFmpeg can read")
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else None
        self.live = self.target.lower().startswith(LIVE_SCHEMES) or realtime
        self.realtime = realtime
        self.timeout = timeout
        self.description = f"video {self.target}"
        self._grabber: Optional[_LatestFrame] = None
        self.dropped = 0

    def __iter__(self) -> Iterator[Frame]:
        cv2 = _cv2()
        if self.live:
            pace = 1.0 / self.fps if (self.realtime and self.fps) else None
            self._grabber = _LatestFrame(self.cap.read, pace)
            yield from _live_frames(self._grabber, self.timeout, self, quiet_timeout=False)
            return
        index, last_t = 0, -1.0
        while True:
            start = time.perf_counter()
            ok, image = self.cap.read()
            if not ok or image is None:
                if index == 0:
                    raise SourceError(f"{self.target}: no frame could be decoded; the file is "
                                      "empty, truncated or in a codec OpenCV cannot read")
                return
            ms = self.cap.get(cv2.CAP_PROP_POS_MSEC)
            # POS_MSEC is the frame's presentation time for most containers; fall back to
            # index / fps when it is missing or goes backwards.
            t = ms / 1e3 if ms > 0 or index == 0 else -1.0
            if t <= last_t:
                t = index / self.fps if self.fps else last_t + 1 / 30
                t = max(t, last_t + 1e-3)
            last_t = t
            h, w = image.shape[:2]
            yield Frame(index, t, image, (w, h), (time.perf_counter() - start) * 1e3)
            index += 1


class CameraSource(_OpenCVSource):
    """A local camera through OpenCV (index like ``0`` or a device path like ``/dev/video2``)."""

    live = True

    def __init__(self, device: str | int = 0, width: Optional[int] = None,
                 height: Optional[int] = None, timeout: float = 5.0):
        cv2 = _cv2()
        dev: Any = int(device) if str(device).isdigit() else str(device)
        self.cap = cv2.VideoCapture(dev)
        if not self.cap.isOpened():
            raise SourceError(f"no camera at {device!s}: check it is connected (ls /dev/video*) "
                              "or give another index, or use --video FILE")
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        ok, first = self.cap.read()
        if not ok or first is None:
            self.cap.release()
            raise SourceError(f"camera {device!s} opened but gives no frames: it may be in use by "
                              "another program; close it or pick another index")
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else None
        self.timeout = timeout
        self.description = f"camera {device!s}"
        self._grabber: Optional[_LatestFrame] = None

    def __iter__(self) -> Iterator[Frame]:
        self._grabber = _LatestFrame(self.cap.read)
        # unplugged or frozen: stop cleanly, the summary still prints
        yield from _live_frames(self._grabber, self.timeout, self, quiet_timeout=True)


class Picamera2Source(FrameSource):
    """A Raspberry Pi camera through Picamera2 (imported only when this source is used)."""

    live = True

    def __init__(self, width: int = 640, height: int = 480, timeout: float = 5.0):
        picamera2 = require("picamera2", "pi", "picamera2")
        try:
            self.cam = picamera2.Picamera2()
            config = self.cam.create_video_configuration(main={"size": (width, height), "format": "RGB888"})
            self.cam.configure(config)
            self.cam.start()
        except Exception as exc:  # noqa: BLE001 - libcamera raises many types
            raise SourceError(f"Picamera2 could not start the camera ({exc}); check the ribbon "
                              "cable and that no other program uses it") from exc
        self.timeout = timeout
        self.description = f"picamera2 {width}x{height}"
        self._grabber: Optional[_LatestFrame] = None

    def _read(self) -> tuple[bool, Optional[np.ndarray]]:
        # libcamera names formats by word order: "RGB888" is B, G, R in memory, i.e. the
        # BGR array OpenCV and the pose stage expect.
        return True, self.cam.capture_array("main")

    def __iter__(self) -> Iterator[Frame]:
        self._grabber = _LatestFrame(self._read)
        yield from _live_frames(self._grabber, self.timeout, self, quiet_timeout=True)

    def close(self) -> None:
        if self._grabber is not None:
            self._grabber.stop()
            self._grabber = None
        if getattr(self, "cam", None) is not None:
            try:
                self.cam.stop()
            finally:
                self.cam = None


class PoseFileSource(FrameSource):
    """Recorded landmarks (T, 33, 4), replayed as frames that already carry their pose.

    The frame rate and image size are ``fps`` and ``image_size`` when given, else the
    sidecar's (``<stem>_mediapipe33.json``, written by ``edgerec data extract``), else the
    header of the video beside the file. With ``with_video=True`` and a companion video,
    frames also carry its pixels (for ``--save``); otherwise ``image`` is None.
    """

    def __init__(self, path: str | os.PathLike, fps: Optional[float] = None,
                 image_size: Optional[tuple[int, int]] = None, with_video: bool = False):
        from edge.sources.posefile import (LANDMARK_SUFFIX, companion_video, read_landmark_array, read_sidecar,
                                           resolve_timing)

        self.path = Path(path)
        try:  # every check of the file (regular file, .npy header, shape, values) is the reader's
            arr = read_landmark_array(self.path)
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        video = companion_video(self.path) if self.path.name.endswith(LANDMARK_SUFFIX) else None
        self.video = video if with_video else None
        try:
            sidecar = read_sidecar(self.path) if (fps is None or image_size is None) else None
            fps, image_size = resolve_timing(self.path, len(arr), fps, image_size, sidecar,
                                             fix="pass --fps and --size WxH")
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        self.arr = arr.astype(np.float32, copy=False)
        self.fps = float(fps)
        self.size: tuple[int, int] = (int(image_size[0]), int(image_size[1]))
        self.description = f"landmarks {self.path}"

    def __iter__(self) -> Iterator[Frame]:
        cap = _cv2().VideoCapture(str(self.video)) if self.video is not None else None
        try:
            for i, row in enumerate(self.arr):
                image = None
                if cap is not None:
                    ok, image = cap.read()
                    image = image if ok else None
                found = bool(np.isfinite(row[:, :2]).all())
                pose = PoseResult(row.copy() if found else None)
                yield Frame(i, i / self.fps, image, self.size, 0.0, pose)  # type: ignore[arg-type]
        finally:
            if cap is not None:
                cap.release()


def open_source(camera: Optional[str] = None, video: Optional[str] = None,
                poses: Optional[str] = None, realtime: bool = False,
                fps: Optional[float] = None, size: Optional[tuple[int, int]] = None,
                with_video: bool = False) -> FrameSource:
    """The source the CLI options name (exactly one of camera, video, poses).

    ``with_video``: recorded landmarks also carry their companion video's pixels.
    """
    given = [n for n, v in (("--camera", camera), ("--video", video), ("--poses", poses)) if v is not None]
    if len(given) != 1:
        raise SourceError(f"give exactly one input: --camera [INDEX], --video PATH_OR_URL or "
                          f"--poses FILE (got {', '.join(given) or 'none'})")
    if poses is not None:
        return PoseFileSource(poses, fps, size, with_video)
    if video is not None:
        return VideoSource(video, realtime=realtime)
    assert camera is not None
    if camera.lower() in ("picamera2", "picam", "pi"):
        return Picamera2Source()
    return CameraSource(camera)


def camera_available(index: int = 0) -> bool:
    """Whether an OpenCV camera opens at ``index`` and gives a frame (quietly)."""
    if os.name == "posix" and not any(Path("/dev").glob("video*")):
        return False
    try:
        cam = CameraSource(index, timeout=2.0)
    except (SourceError, ImportError):
        return False
    cam.close()
    return True
