"""``edgerec data extract``: turn a folder of dance videos into landmark files.

Every video under a folder (suffixes :data:`edge.sources.posefile.VIDEO_SUFFIXES`, recursively, in
sorted order) goes through the runtime's own pose stage (:func:`edge.pose.make_pose`, the
one ``edgerec run`` uses, a fresh estimator per video) frame by frame, and becomes

* ``OUT/<sub-folder>/<stem>_mediapipe33.npy``: float32 (T, 33, 4), normalised x, y,
  relative z, visibility, one row per decoded frame, NaN rows where no pose was found:
  the layout of the reference files in the shared ``videos/`` folder
  (:mod:`edge.sources.posefile`), so every loader, ``edgerec run --poses`` and training read it;
* ``OUT/<sub-folder>/<stem>_mediapipe33.json``: a sidecar with the frame rate, image size,
  frame counts, label, the video's path, size and mtime, the pose stage and the edgerec
  version (schema :data:`edge.sources.posefile.SIDECAR_SCHEMA`), so the landmarks need no video
  beside them.

Why it is built this way:

* **Atomic and resumable.** Both files are written to a temporary name in their folder
  and renamed (:func:`edge.core.files.atomic_write_bytes`), the sidecar last. A landmark file
  counts as done only when its sidecar exists, matches the video (size and mtime) and
  the landmark file (frame count and sha256), so a killed run leaves nothing half-written
  at a final path and the next run redoes exactly what is missing or stale.
* **Like the reference.** Frames go to the pose stage without timestamps, i.e. 1/30 s
  apart on the stage's clock, exactly as MediaPipe's Python solution that made the
  reference files stamps them; the native stage then reproduces the reference to ~1e-8 of
  the image diagonal (with the media timestamps its One Euro filters differ by ~2e-4).
* **One bad video does not stop the rest.** A video that cannot be opened or decoded is
  reported, nothing is written for it, the others are processed, and the summary says it
  failed (the command exits non-zero).

The label is the video's folder name when it sits in a sub-folder of the input
(``VIDEOS/salsa/x.mp4`` -> ``salsa``), else its stem (``VIDEOS/macarena.mp4`` ->
``macarena``), as the shared data names styles. Nothing here imports TensorFlow;
OpenCV and tqdm come through :func:`edge.core.optional.require`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from edge import __version__
from edge.core import jsonio
from edge.core.optional import require
from edge.core.files import atomic_write_bytes, atomic_write_text
from edge.sources.posefile import (
    LANDMARK_SUFFIX,
    SIDECAR_SCHEMA,
    SIDECAR_SUFFIX,
    SIDECAR_VERSION,
    VIDEO_SUFFIXES,
    parse_sidecar,
)
from edge.core.schema import NUM_LANDMARKS

#: How frames are stamped for the pose stage (recorded in the sidecar).
TIMESTAMPS = "none: frames 1/30 s apart on the pose stage's clock, as MediaPipe's Python solution stamps them"
LAYOUT = "float32 (T, 33, 4): normalised image x, y, relative z, visibility; one row per decoded frame; NaN rows: no pose"


class ExtractError(ValueError):
    """A failure of the whole extraction; the message is one line naming the fix."""


@dataclass(frozen=True)
class ExtractConfig:
    """How to extract: the pose stage (``auto|native|mediapipe`` and the native variant, as
    ``edgerec run --pose/--pose-variant``), its threads, whether to redo finished videos,
    and whether to show a progress bar."""

    pose: str = "auto"
    pose_variant: str = "float32"
    threads: int = 1
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        from edge.pose import POSE_CHOICES

        if self.pose not in POSE_CHOICES:
            raise ExtractError(f"unknown pose stage {self.pose!r}; choose one of {', '.join(POSE_CHOICES)}")
        if self.threads < 1:
            raise ExtractError(f"threads must be at least 1, got {self.threads}")

    def wanted_stage(self) -> Optional[tuple[str, Optional[str]]]:
        """(stage, variant) a finished file must have been made with, or None for any
        (``auto`` with the default variant accepts whichever stage made it)."""
        if self.pose == "auto":
            return None if self.pose_variant == "float32" else ("native", self.pose_variant)
        return (self.pose, self.pose_variant if self.pose == "native" else None)


@dataclass(frozen=True)
class VideoJob:
    """One video and where its landmarks go. ``video`` is the path as the caller gave the
    folder (joined with the relative path), ``relative`` the path inside the folder."""

    video: Path
    relative: Path
    landmarks: Path
    sidecar: Path
    label: str


@dataclass(frozen=True)
class VideoResult:
    """What happened to one video: ``status`` is ``done``, ``skipped`` (already extracted)
    or ``failed`` (with a one-line ``error``); frames, frames with a pose and seconds are
    those of this run (of the earlier run for a skipped video)."""

    job: VideoJob
    status: str
    frames: int = 0
    frames_with_pose: int = 0
    seconds: float = 0.0
    error: Optional[str] = None

    def line(self) -> str:
        """The one-line summary printed for this video."""
        name = self.job.relative.as_posix()
        if self.status == "failed":
            return f"{name}: FAILED: {self.error}"
        if self.status == "skipped":
            return f"{name}: skipped, already extracted in {self.job.landmarks} (--overwrite redoes it)"
        share = self.frames_with_pose / self.frames if self.frames else 0.0
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (f"{name}: {self.frames} frames, {self.frames_with_pose} with a pose ({share:.0%}), "
                f"{self.seconds:.1f} s ({rate:.1f} frames/s) -> {self.job.landmarks}")


@dataclass(frozen=True)
class ExtractSummary:
    """The results of every video, in processing order, and the wall time of the run."""

    results: tuple[VideoResult, ...]
    seconds: float

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def done(self) -> int:
        return self.count("done")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> tuple[VideoResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")

    @property
    def frames(self) -> int:
        """Frames run through the pose stage in this run."""
        return sum(r.frames for r in self.results if r.status == "done")

    def line(self) -> str:
        """The run's one-line summary."""
        rate = f" ({self.frames / self.seconds:.1f} frames/s)" if self.frames and self.seconds > 0 else ""
        text = (f"extracted {self.done} of {len(self.results)} videos ({self.frames} frames) in "
                f"{self.seconds:.1f} s{rate}; skipped {self.skipped} already done")
        if self.skipped:
            text += " (--overwrite redoes them)"
        return text + f"; failed {len(self.failed)}"

    def error_line(self) -> Optional[str]:
        """One line naming the videos that failed and the fix, or None if none did."""
        if not self.failed:
            return None
        first = self.failed[0]
        more = f" (and {len(self.failed) - 1} more, listed above)" if len(self.failed) > 1 else ""
        return (f"{len(self.failed)} of {len(self.results)} videos could not be extracted: {first.error}{more}; "
                "fix or remove them and run again (finished videos are skipped)")


# --- finding the work ------------------------------------------------------------------------


def find_videos(video_dir: Path) -> list[Path]:
    """Every video file under ``video_dir`` (recursively; hidden files skipped), sorted by
    relative path. One-line :class:`ExtractError` when the folder is missing or has none."""
    video_dir = Path(video_dir)
    if not video_dir.exists():
        raise ExtractError(f"{video_dir}: video folder not found; check the path")
    if not video_dir.is_dir():
        raise ExtractError(f"{video_dir}: not a folder; give the folder that holds the videos")
    videos = [p for p in video_dir.rglob("*")
              if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".") and p.is_file()]
    if not videos:
        raise ExtractError(f"{video_dir}: no videos found (looked for {', '.join(VIDEO_SUFFIXES)} in it and its "
                           "sub-folders); point it at the folder that holds them")
    return sorted(videos, key=lambda p: p.relative_to(video_dir).as_posix())


def video_label(video: Path, video_dir: Path) -> str:
    """The style label: the video's folder name when it sits in a sub-folder of
    ``video_dir`` (``salsa/x.mp4`` -> ``salsa``), else the video's stem."""
    rel = Path(video).relative_to(video_dir)
    return rel.parent.name if len(rel.parts) > 1 else rel.stem


def plan(video_dir: Path, out_dir: Path) -> list[VideoJob]:
    """The jobs for every video under ``video_dir``, writing under ``out_dir``.

    Fails (one line) on a missing or empty folder, an ``out_dir`` that is a file, and two
    videos that would write the same landmark file (``x.mp4`` and ``x.mov`` side by side).
    """
    video_dir, out_dir = Path(video_dir), Path(out_dir)
    videos = find_videos(video_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExtractError(f"--out {out_dir}: is a file, not a folder; give a folder for the landmark files")
    jobs: list[VideoJob] = []
    seen: dict[Path, Path] = {}
    for video in videos:
        rel = video.relative_to(video_dir)
        folder = out_dir / rel.parent
        landmarks = folder / (rel.stem + LANDMARK_SUFFIX)
        if landmarks in seen:
            raise ExtractError(f"{seen[landmarks]} and {rel} would both write {landmarks}; rename one of them")
        seen[landmarks] = rel
        jobs.append(VideoJob(video=video, relative=rel, landmarks=landmarks,
                             sidecar=folder / (rel.stem + SIDECAR_SUFFIX), label=video_label(video, video_dir)))
    return jobs


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def finished(job: VideoJob, wanted: Optional[tuple[str, Optional[str]]] = None) -> Optional[str]:
    """Why ``job`` must be (re)done, or None when its files are complete and current.

    Complete and current: the sidecar parses, names this video's size and mtime, the pose
    stage ``wanted`` (when not None), and the landmark file's frame count and sha256.
    """
    if not job.sidecar.is_file():
        return "no sidecar" if job.landmarks.exists() else "not extracted yet"
    try:
        meta = parse_sidecar(job.sidecar)
    except ValueError:
        return "the sidecar is unreadable"
    try:
        st = job.video.stat()
    except OSError:
        return "the video cannot be read"
    mtime_ok = (meta.get("video_mtime_ns") == st.st_mtime_ns if "video_mtime_ns" in meta
                else meta.get("video_mtime") == st.st_mtime)
    if meta.get("video_size_bytes") != st.st_size or not mtime_ok:
        return "the video changed since it was extracted"
    if wanted is not None and (meta.get("pose_stage"), meta.get("pose_variant")) != wanted:
        return f"it was extracted with pose stage {meta.get('pose_stage')}/{meta.get('pose_variant')}"
    try:
        data = job.landmarks.read_bytes()
    except OSError:
        return "the landmark file is missing"
    if meta.get("landmarks_sha256") != _sha256(data):
        return "the landmark file does not match its sidecar"
    return None


# --- one video -----------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_ffmpeg() -> Iterator[None]:
    """Silence FFmpeg's own stderr chatter ("moov atom not found") while videos are opened;
    the failure is reported as one line instead. An explicit setting is kept."""
    key = "OPENCV_FFMPEG_LOGLEVEL"
    before = os.environ.get(key)
    if before is None:
        os.environ[key] = "-8"  # AV_LOG_QUIET
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)


def _remove_leftovers(job: VideoJob) -> None:
    """Delete temporary files a killed run left for this job (``.NAME.*.tmp``)."""
    folder = job.landmarks.parent
    if not folder.is_dir():
        return
    for final in (job.landmarks, job.sidecar):
        for tmp in folder.glob(f".{final.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def extract_video(job: VideoJob, config: ExtractConfig, position: str = "") -> VideoResult:
    """Run the pose stage over every frame of ``job.video`` and write its two files.

    A video that cannot be opened or decoded gives a ``failed`` result and writes nothing.
    A pose stage that cannot start (models not cached, mediapipe missing, unknown variant)
    raises :class:`ExtractError`: it would fail for every video.
    """
    from edge.pose import make_pose
    from edge.sources.frames import SourceError, VideoSource

    cv2 = require("cv2", "edge", "opencv-python-headless")
    tqdm = require("tqdm", "edge").tqdm
    start = time.perf_counter()
    try:
        st = job.video.stat()
        with _quiet_ffmpeg():
            source = VideoSource(job.video)
    except (SourceError, OSError) as exc:
        return VideoResult(job, "failed", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
    rows: list[np.ndarray] = []
    found = 0
    size: Optional[tuple[int, int]] = None
    last_t = 0.0
    error: Optional[str] = None
    try:
        header_frames = int(source.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        try:
            pose = make_pose(config.pose, threads=config.threads, variant=config.pose_variant)
        except (FileNotFoundError, ValueError, ImportError) as exc:
            raise ExtractError(str(exc).splitlines()[0]) from None
        empty = np.full((NUM_LANDMARKS, 4), np.nan, np.float32)
        bar = tqdm(total=header_frames or None, desc=f"{position}{job.relative.as_posix()}", unit="frame",
                   leave=False, disable=not config.progress, dynamic_ncols=True)
        try:
            with _quiet_ffmpeg():
                for frame in source:
                    if size is None:
                        size = frame.size
                    elif frame.size != size:
                        error = (f"{job.video}: frame {frame.index} is {frame.size[0]}x{frame.size[1]}, not "
                                 f"{size[0]}x{size[1]} like the first; re-encode the video at one size")
                        break
                    # No timestamp: the reference files' clock (see the module docstring).
                    result = pose.process(frame.image)
                    if result.found:
                        rows.append(np.asarray(result.landmarks, np.float32).reshape(NUM_LANDMARKS, 4))
                        found += 1
                    else:
                        rows.append(empty)
                    last_t = frame.t
                    bar.update(1)
        except SourceError as exc:
            error = str(exc).splitlines()[0]
        finally:
            bar.close()
            pose.close()
    finally:
        source.close()
    if error is None and size is None:
        error = f"{job.video}: no frame could be decoded; the file is empty, truncated or in a codec OpenCV cannot read"
    fps = source.fps
    if error is None and fps is None:
        fps = (len(rows) - 1) / last_t if len(rows) > 1 and last_t > 0 else None
        if fps is None:
            error = f"{job.video}: the video has no frame rate in its header; re-encode it (e.g. ffmpeg -r 30)"
    if error is not None:
        return VideoResult(job, "failed", frames=len(rows), frames_with_pose=found, error=error)
    assert size is not None and fps is not None
    arr = np.stack(rows).astype(np.float32, copy=False)
    data = _npy_bytes(arr)
    seconds = time.perf_counter() - start
    meta: dict[str, Any] = {
        "schema": SIDECAR_SCHEMA,
        "schema_version": SIDECAR_VERSION,
        "landmarks": job.landmarks.name,
        "layout": LAYOUT,
        "landmarks_sha256": _sha256(data),
        "label": job.label,
        "fps": float(fps),
        "width": int(size[0]),
        "height": int(size[1]),
        "frames": int(len(arr)),
        "frames_with_pose": int(found),
        "header_frames": header_frames,
        "video": str(job.video),
        "video_size_bytes": int(st.st_size),
        "video_mtime": float(st.st_mtime),
        "video_mtime_ns": int(st.st_mtime_ns),
        "pose_stage": getattr(pose, "name", config.pose),
        "pose_variant": getattr(pose, "variant", None),
        "pose_timestamps": TIMESTAMPS,
        "threads": config.threads,
        "edgerec_version": __version__,
        "opencv_version": str(cv2.__version__),
        "extract_seconds": round(seconds, 3),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    text = jsonio.dumps(meta, indent=1) + "\n"
    try:
        _remove_leftovers(job)
        # The old sidecar goes first, so no moment has a new landmark file and an old sidecar.
        with contextlib.suppress(FileNotFoundError):
            job.sidecar.unlink()
        atomic_write_bytes(job.landmarks, data)
        atomic_write_text(job.sidecar, text)
    except OSError as exc:
        return VideoResult(job, "failed", frames=len(arr), frames_with_pose=found,
                           error=f"{job.landmarks}: cannot write ({exc.strerror or exc}); check --out is writable")
    return VideoResult(job, "done", frames=len(arr), frames_with_pose=found, seconds=seconds)


# --- the folder ----------------------------------------------------------------------------


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def extract(video_dir: str | Path, out_dir: str | Path, config: ExtractConfig = ExtractConfig(),
            log: Callable[[str], None] = _stderr) -> ExtractSummary:
    """Extract every video under ``video_dir`` into ``out_dir`` (see the module docstring).

    ``log`` gets one line per video and the summary. Raises :class:`ExtractError` when
    there is nothing to do (missing or empty folder) or the pose stage cannot start;
    videos that fail one by one are in :attr:`ExtractSummary.failed` instead.
    """
    start = time.perf_counter()
    jobs = plan(Path(video_dir), Path(out_dir))
    wanted = config.wanted_stage()
    results: list[VideoResult] = []
    for i, job in enumerate(jobs, 1):
        reason = "--overwrite" if config.overwrite else finished(job, wanted)
        if reason is None:
            meta = parse_sidecar(job.sidecar)
            result = VideoResult(job, "skipped", frames=int(meta["frames"]),
                                 frames_with_pose=int(meta.get("frames_with_pose", 0)))
        else:
            result = extract_video(job, config, position=f"[{i}/{len(jobs)}] ")
        results.append(result)
        log(result.line())
    summary = ExtractSummary(tuple(results), time.perf_counter() - start)
    log(summary.line())
    return summary


def compare_with_reference(landmarks: Path, reference: Path,
                           image_size: Optional[tuple[int, int]] = None) -> dict[str, Any]:
    """How an extracted landmark file agrees with a reference one (e.g. the shared
    ``*_mediapipe33.npy``): median and 90th-percentile error of the visible reference
    landmarks as a fraction of the image diagonal, on frames where both found a pose
    (:func:`edge.sources.posefile.landmark_errors`), and the frames with a pose in each."""
    from edge.sources.posefile import landmark_errors, read_sidecar

    ours, ref = np.load(landmarks), np.load(reference)
    if image_size is None:
        meta = read_sidecar(landmarks)
        if meta is None:
            raise ExtractError(f"{landmarks}: no sidecar to take the image size from; pass image_size")
        image_size = (int(meta["width"]), int(meta["height"]))
    out: dict[str, Any] = {"frames": int(len(ours)), "reference_frames": int(len(ref)),
                           "frames_with_pose": int((~np.isnan(ours[:, 0, 0])).sum()),
                           "reference_frames_with_pose": int((~np.isnan(ref[:, 0, 0])).sum())}
    if ours.shape != ref.shape:
        return {**out, "median": math.nan, "p90": math.nan, "compared_frames": 0}
    err = landmark_errors(ours, ref, image_size)
    both = int((~np.isnan(ours[:, 0, 0]) & ~np.isnan(ref[:, 0, 0])).sum())
    return {**out, "median": float(np.median(err)) if err.size else math.nan,
            "p90": float(np.percentile(err, 90)) if err.size else math.nan, "compared_frames": both}
