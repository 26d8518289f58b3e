"""Drawing the runtime's view on a frame, and writing annotated video that is always playable.

:func:`draw` paints the skeleton, the current state or style with its confidence, the top
recommendations and the FPS onto a BGR frame. :class:`AnnotatedWriter` writes an MP4 to a
temporary file beside the target and renames it into place when closed, so an interrupted
run (Ctrl-C, a camera unplugged, a stream that ends) leaves either a complete, playable file
or none, never a half-written one under the requested name.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Optional

import numpy as np

from edge.core.errors import UserError
from edge.core.files import readable_by_all, temp_file
from edge.core.optional import require
from edge.pose.base import PoseResult

#: MediaPipe's 33-landmark skeleton edges (body only; the face is drawn as points).
POSE_EDGES: tuple[tuple[int, int], ...] = (
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),  # arms
    (15, 17), (15, 19), (15, 21), (17, 19), (16, 18), (16, 20), (16, 22), (18, 20),  # hands
    (11, 23), (12, 24), (23, 24),  # torso
    (23, 25), (25, 27), (24, 26), (26, 28),  # legs
    (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32),  # feet
)
_STATE_TEXT = {"warming_up": "watching...", "no_dancer": "no dancer in view", "still": "still: no movement",
               "unsure": "unsure: not a style I know"}
#: Annotated frames are at least this many pixels on their short side.
MIN_SIDE = 480
_GREEN, _AMBER, _GREY, _WHITE = (80, 200, 80), (0, 170, 255), (160, 160, 160), (255, 255, 255)


def blank_frame(size: tuple[int, int]) -> np.ndarray:
    """A dark canvas of (width, height), for drawing replayed landmarks without video."""
    w, h = size
    return np.full((h, w, 3), 24, np.uint8)


def draw(image: np.ndarray, pose: Optional[PoseResult], update: Optional[dict[str, Any]],
         fps: float, visibility: float = 0.5) -> np.ndarray:
    """Annotate a copy of ``image`` (BGR) with the pose and the latest update (its JSON form).

    Frames smaller than :data:`MIN_SIDE` on their short side are upscaled first.
    """
    cv2 = require("cv2", "edge", "opencv-python-headless")
    h, w = image.shape[:2]
    if min(w, h) < MIN_SIDE:  # small videos are upscaled so the text stays readable
        f = MIN_SIDE / min(w, h)
        out = cv2.resize(image, (int(round(w * f)), int(round(h * f))), interpolation=cv2.INTER_LINEAR)
    else:
        out = image.copy()
    h, w = out.shape[:2]
    scale = max(min(w, h) / 480.0, 0.5)
    thick = max(int(round(2 * scale)), 1)
    if pose is not None and pose.landmarks is not None:
        lm = pose.landmarks
        pts = np.column_stack([lm[:, 0] * w, lm[:, 1] * h]).astype(int)
        vis = np.nan_to_num(lm[:, 3]) >= visibility
        for a, b in POSE_EDGES:
            if vis[a] and vis[b]:
                cv2.line(out, tuple(pts[a]), tuple(pts[b]), _GREEN, thick, cv2.LINE_AA)
        for i in np.flatnonzero(vis):
            cv2.circle(out, tuple(pts[i]), thick + 1, _WHITE, -1, cv2.LINE_AA)

    font, fs = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale
    lines: list[tuple[str, tuple[int, int, int]]] = []
    if update is None:
        lines.append(("starting...", _GREY))
    elif update["state"] == "style":
        lines.append((f"{update['style']}  {update['confidence']:.0%}", _GREEN))
    else:
        lines.append((_STATE_TEXT.get(update["state"], update["state"]), _AMBER if update["state"] == "unsure" else _GREY))
    if update is not None and update.get("movement_bpm"):
        lines.append((f"moving at {update['movement_bpm']:.0f} steps/min", _WHITE))
    music = (update or {}).get("music")
    if music and music.get("silent"):
        lines.append(("music: silence", _GREY))
    elif music and music.get("bpm"):
        beat = (update or {}).get("on_beat") or {}
        on = f", on the beat {beat['score']:.0%}" if beat.get("score") is not None else ""
        lines.append((f"music {music['bpm']:.0f} BPM{on}", _WHITE))
    if (update or {}).get("companions"):
        from edge.runtime.companions import companion_text

        lines.extend((companion_text(c), _WHITE) for c in update["companions"])
    for i, r in enumerate((update or {}).get("recommendations", [])[:3]):
        bpm = f" {r['bpm']:.0f} BPM" if r.get("bpm") else ""
        lines.append((f"{i + 1}. {r['title']}{bpm}", _WHITE))
    pose_ms = (update or {}).get("latency_ms", {}).get("pose")
    lines.append((f"{fps:.1f} FPS" + (f", pose {pose_ms:.0f} ms" if pose_ms else ""), _GREY))
    line_h = int(22 * scale)
    box_w = int(min(w - 8, max(cv2.getTextSize(t, font, fs, 1)[0][0] for t, _ in lines) + 16))
    box_h = line_h * len(lines) + 10
    overlay = out.copy()
    cv2.rectangle(overlay, (4, 4), (4 + box_w, 4 + box_h), (0, 0, 0), -1)
    out = cv2.addWeighted(overlay, 0.55, out, 0.45, 0)
    for i, (text, colour) in enumerate(lines):
        cv2.putText(out, text, (12, 4 + line_h * (i + 1)), font, fs, colour, 1, cv2.LINE_AA)
    if update is not None and update.get("probs"):
        # a small bar per style, so the runner-up is visible too
        top = sorted(update["probs"].items(), key=lambda kv: -kv[1])[:3]
        y0 = h - 8 - int(18 * scale) * len(top)
        for i, (name, p) in enumerate(top):
            y = y0 + int(18 * scale) * i
            cv2.rectangle(out, (8, y), (8 + int(120 * scale * p), y + int(12 * scale)), _GREEN, -1)
            cv2.putText(out, f"{name} {p:.0%}", (14 + int(120 * scale), y + int(11 * scale)), font,
                        0.42 * scale, _WHITE, 1, cv2.LINE_AA)
    return out


VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


#: Largest side of a video ``--save`` writes (8K is 7680).
MAX_VIDEO_SIDE = 8192
#: Free space under which a failed video is blamed on a full disk.
LOW_SPACE_BYTES = 8 * 1024 * 1024


def check_save_path(path: str | os.PathLike) -> Path:
    """Refuse a ``--save`` target that cannot work, before any frame is processed."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"{path}: --save needs a video file name ending in .mp4 (or .avi/.mkv/.mov)")
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent}: folder for --save does not exist; create it first")
    return path


class AnnotatedWriter:
    """An MP4 writer that only ever leaves a complete file at ``path`` (temp file + rename).

    OpenCV's writer fails silently (a full disk gives a truncated file and no error), so
    :meth:`close` checks the result before the rename: the file must open, hold the frames
    written, and the disk must not have run out; otherwise the temporary file is removed and
    a one-line :class:`~edge.core.errors.UserError` says why.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]):
        cv2 = require("cv2", "edge", "opencv-python-headless")
        self.path = check_save_path(path)
        self.size = (int(size[0]), int(size[1]))
        if not (0 < self.size[0] <= MAX_VIDEO_SIDE and 0 < self.size[1] <= MAX_VIDEO_SIDE):
            raise UserError(self.path, f"cannot write a {self.size[0]}x{self.size[1]} video",
                            f"sizes up to {MAX_VIDEO_SIDE} pixels a side are supported")
        self.tmp = temp_file(self.path, keep_suffix=True)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in (".mp4", ".mov") else "MJPG"))
        self.fps = float(fps) if fps and 0 < fps <= 1000 else 30.0
        self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, self.size)
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: OpenCV cannot write this video format here; try a .avi name")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        cv2 = require("cv2", "edge", "opencv-python-headless")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self.writer.write(image)
        self.frames += 1

    def discard(self) -> None:
        """Stop without keeping anything (the run failed)."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        self.tmp.unlink(missing_ok=True)

    def _check(self) -> int:
        """The frames in the finished file; raises when they are fewer than were written."""
        cv2 = require("cv2", "edge", "opencv-python-headless")
        size = self.tmp.stat().st_size if self.tmp.exists() else 0
        cap = cv2.VideoCapture(str(self.tmp)) if size else None
        try:
            readable = cap is not None and cap.isOpened()
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if readable else 0
        finally:
            if cap is not None:
                cap.release()
        if readable and count >= self.frames:
            return count
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            free = -1
        if 0 <= free < LOW_SPACE_BYTES:
            raise UserError(self.path, f"no space left on the device ({free // 1024} KiB free; the video of "
                            f"{self.frames} frames was not saved)", "free some space or --save to another disk")
        raise UserError(self.path, f"the video could not be written ({count} of {self.frames} frames readable, "
                        f"{size} bytes); nothing was saved", "check the disk, or try a .avi name")

    def close(self) -> Optional[Path]:
        """Finish the file, check it and move it into place; returns the path, or None if
        no frame was written. Raises :class:`~edge.core.errors.UserError` (and leaves
        nothing at the path) when the file on disk is not the video that was written."""
        if self.writer is None:
            return self.path if self.path.exists() else None
        self.writer.release()
        self.writer = None
        if self.frames == 0:
            self.tmp.unlink(missing_ok=True)
            return None
        try:
            # a signal between OpenCV's write and the count can leave one frame uncounted
            self.frames = self._check()
            readable_by_all(self.tmp)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        return self.path

    def __enter__(self) -> "AnnotatedWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
