"""Recorded MediaPipe landmark files: the ``--poses`` input and the reference oracle.

A landmark file is a float array (T, 33, 4) of normalised image x, y, relative z and
visibility, one row per decoded video frame, NaN where no pose was found (the layout
MediaPipe's legacy ``solutions.pose`` produces). The frame rate and image size come from
the caller, else from the JSON sidecar ``<stem>_mediapipe33.json`` that ``edgerec data
extract`` writes beside each file (so a folder of extracted landmarks needs no videos), else
from the video beside it.
"""

from __future__ import annotations

import io
import math
import os
import tokenize
from pathlib import Path
from typing import Any, Optional

import numpy as np

from edge.core import jsonio
from edge.core.errors import UserError
from edge.core.files import read_regular_file
from edge.core.schema import NUM_LANDMARKS, PoseSequence, uniform_times

#: Suffix that marks a landmark file; the style label is the stem before it.
LANDMARK_SUFFIX = "_mediapipe33.npy"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
#: Landmarks MediaPipe reports below this visibility are treated as not seen.
VISIBILITY_THRESHOLD = 0.5
#: Suffix of the JSON sidecar ``edgerec data extract`` writes beside a landmark file.
SIDECAR_SUFFIX = "_mediapipe33.json"
#: The sidecar's ``schema`` value and the newest ``schema_version`` this code reads.
SIDECAR_SCHEMA = "edgerec.landmarks"
SIDECAR_VERSION = 1
#: Largest image side and frame rate a sidecar may state (far beyond any real video; a larger
#: number is a damaged file, and would overflow the pixel arithmetic).
MAX_IMAGE_SIDE = 1_000_000
MAX_FPS = 100_000.0
#: Largest magnitude a landmark value may have: MediaPipe's are normalised (about -1..2), so
#: anything near this is a damaged file, not a pose.
MAX_LANDMARK_VALUE = 1e6
#: Fix named when a landmark file cannot be read.
LANDMARK_FIX = "give a (T, 33, 4) float .npy file as `edgerec data extract` writes it"


# ------------------------------------------------------------------ reading files safely


def load_npy(path: str | Path, what: str = ".npy file", fix: str = "save the array with numpy.save") -> np.ndarray:
    """One numeric array from a ``.npy`` file, with every failure a :class:`UserError` naming it.

    The header is read and checked before any data: no pickles (object arrays), no
    structured or non-numeric dtypes, no ``.npz`` archives, and a data size that matches
    the header (a truncated file is refused; nothing of the header's size is allocated
    before that). The array returned is read-only (a view of the file's bytes).
    """
    from numpy.lib import format as npformat

    raw = read_regular_file(path, what)
    if not raw:
        raise UserError(path, f"empty file (a {what} was expected)", fix)
    if raw[:2] == b"PK":
        raise UserError(path, "a zip (.npz) archive, not one .npy array",
                        "save one array with numpy.save (not numpy.savez)")
    if raw[:6] != npformat.MAGIC_PREFIX:
        raise UserError(path, "not a .npy file (no NUMPY header)", fix)
    bio = io.BytesIO(raw)
    try:
        version = npformat.read_magic(bio)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(bio)
        elif version == (2, 0):
            shape, fortran, dtype = npformat.read_array_header_2_0(bio)
        else:
            raise UserError(path, f".npy format version {version[0]}.{version[1]} is not supported", fix)
    except UserError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, SyntaxError, OverflowError, RecursionError,
            MemoryError, EOFError, tokenize.TokenError) as exc:  # TokenError: numpy's Python 2 header fallback
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise UserError(path, f"corrupt .npy header ({detail})", fix) from None
    if dtype.hasobject:
        raise UserError(path, "holds Python objects (a pickled object array), which edgerec never loads", fix)
    if dtype.fields is not None or dtype.subdtype is not None:
        raise UserError(path, f"holds a structured array ({dtype}), not plain numbers", fix)
    if dtype.kind not in "fiu":
        raise UserError(path, f"holds {dtype} values, not numbers", fix)
    if any(d < 0 or d > 2 ** 40 for d in shape) or len(shape) > 32:
        raise UserError(path, f"corrupt .npy header (impossible shape {str(shape)[:80]})", fix)
    count = math.prod(shape)
    start = bio.tell()
    if count * dtype.itemsize > len(raw) - start:
        raise UserError(path, f"truncated: the header says {shape} {dtype} ({count * dtype.itemsize} bytes of data), "
                              f"the file has {len(raw) - start}", "re-create the file")
    if count == 0:
        return np.zeros(shape, dtype)
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=start)
    return arr.reshape(shape, order="F" if fortran else "C")


def read_landmark_array(path: str | Path) -> np.ndarray:
    """The checked (T, 33, 4) float32 landmarks of a landmark file (T >= 1); NaN marks a
    frame or landmark MediaPipe did not find. One-line :class:`UserError` naming the file
    for anything else (see :func:`load_npy`; infinite or absurdly large values too)."""
    arr = load_npy(path, "landmark file", LANDMARK_FIX)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_LANDMARKS, 4):
        raise UserError(path, f"expected landmarks of shape (T, 33, 4), got {arr.shape}", LANDMARK_FIX)
    if len(arr) == 0:
        raise UserError(path, "holds no frames", LANDMARK_FIX)
    with np.errstate(invalid="ignore"):
        bad = np.abs(arr) > MAX_LANDMARK_VALUE  # inf too; NaN compares False
    if bad.any():
        raise UserError(path, f"holds infinite or implausibly large values ({int(bad.sum())} of {arr.size}); "
                              "landmarks are normalised image coordinates, NaN where no pose was found",
                        LANDMARK_FIX)
    return arr.astype(np.float32)


def probe_video(path: Path) -> tuple[float, tuple[int, int]]:
    """Frame rate and (width, height) from a video's header, via OpenCV."""
    from edge.core.optional import require

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
        if candidate.is_file():  # regular files only: a FIFO named like a video would block OpenCV
            return candidate
    return None


def sidecar_path(landmark_path: str | Path) -> Path:
    """The JSON sidecar that describes a landmark file: ``x_mediapipe33.npy`` ->
    ``x_mediapipe33.json`` (any other name: the same name with ``.json``)."""
    landmark_path = Path(landmark_path)
    if landmark_path.name.endswith(LANDMARK_SUFFIX):
        return landmark_path.with_name(landmark_path.name[: -len(LANDMARK_SUFFIX)] + SIDECAR_SUFFIX)
    return landmark_path.with_suffix(".json")


def parse_sidecar(path: Path) -> dict[str, Any]:
    """Read and check a sidecar (strict JSON: no NaN or Infinity); one-line ValueError if bad.

    Checked: the schema name and version, a positive finite ``fps`` (at most
    :data:`MAX_FPS`), positive integer ``width``/``height`` (at most :data:`MAX_IMAGE_SIDE`) and
    a non-negative integer ``frames``; other keys are free. The path must be a regular file.
    """
    path = Path(path)
    fix = f"re-run `edgerec data extract` for its video, or delete {path.name}"
    try:
        meta = jsonio.loads(read_regular_file(path, "landmark sidecar").decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path}: not a readable landmark sidecar (nested too deeply); {fix}") from None
    except UserError:
        raise
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError too
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: not a readable landmark sidecar ({detail}); {fix}") from None
    if not isinstance(meta, dict) or meta.get("schema") != SIDECAR_SCHEMA:
        raise ValueError(f"{path}: not an edgerec landmark sidecar (no \"schema\": \"{SIDECAR_SCHEMA}\"); {fix}")
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: sidecar has no valid schema_version; {fix}")
    if version > SIDECAR_VERSION:
        raise ValueError(f"{path}: sidecar schema_version {version} is newer than this edgerec reads "
                         f"({SIDECAR_VERSION}); upgrade edgerec")
    fps = meta.get("fps")
    if (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0
            or fps > MAX_FPS):
        raise ValueError(f"{path}: sidecar fps must be a positive number up to {MAX_FPS:g}, got {fps!r}; {fix}")
    for key in ("width", "height", "frames"):
        v = meta.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "frames" else 1):
            raise ValueError(f"{path}: sidecar {key} must be a {'non-negative' if key == 'frames' else 'positive'} "
                             f"integer, got {v!r}; {fix}")
        if key != "frames" and v > MAX_IMAGE_SIDE:
            raise ValueError(f"{path}: sidecar {key} {v} is larger than any video ({MAX_IMAGE_SIDE}); {fix}")
    return meta


def read_sidecar(landmark_path: str | Path) -> Optional[dict[str, Any]]:
    """The checked sidecar of a landmark file (:func:`parse_sidecar`), or None if it has none
    (a sidecar path that exists but is not a regular file is an error, not "none")."""
    path = sidecar_path(landmark_path)
    return parse_sidecar(path) if os.path.lexists(path) else None


def resolve_timing(
    path: Path,
    frames: int,
    fps: Optional[float] = None,
    image_size: Optional[tuple[int, int]] = None,
    sidecar: Optional[dict[str, Any]] = None,
    fix: str = "pass fps and image_size",
) -> tuple[float, tuple[int, int]]:
    """Frame rate and (width, height) of a landmark file with ``frames`` rows.

    Explicit ``fps``/``image_size`` win; what is missing comes from the sidecar (which must
    describe exactly ``frames`` rows), else from the companion video's header. One-line
    ValueError when none of the three can say; ``fix`` is how the caller's user passes the
    values by hand (the CLI says ``--fps`` and ``--size``).
    """
    if fps is not None and image_size is not None:
        return float(fps), (int(image_size[0]), int(image_size[1]))
    if sidecar is not None:
        if sidecar["frames"] != frames:
            raise ValueError(f"{sidecar_path(path)}: the sidecar describes {sidecar['frames']} frames but "
                             f"{path.name} has {frames}; it belongs to another extraction: re-run "
                             f"`edgerec data extract`, or {fix}")
        fps = fps or float(sidecar["fps"])
        image_size = image_size or (int(sidecar["width"]), int(sidecar["height"]))
    else:
        video = companion_video(path) if path.name.endswith(LANDMARK_SUFFIX) else None
        if video is None:
            raise ValueError(
                f"{path}: no sidecar ({sidecar_path(path).name}) or video beside it to read the frame rate "
                f"and size from; {fix}"
            )
        v_fps, v_size = probe_video(video)
        fps = fps or v_fps
        image_size = image_size or v_size
    return float(fps), (int(image_size[0]), int(image_size[1]))


def landmark_errors(ours: np.ndarray, ref: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Error of each visible reference landmark as a fraction of the image diagonal.

    Only frames where both arrays found a pose and landmarks with reference visibility of
    at least :data:`VISIBILITY_THRESHOLD` count (the measure of ``tests/test_pose_native``);
    both arrays are (T, 33, 4) in this module's layout.
    """
    if ours.shape != ref.shape:
        raise ValueError(f"landmark arrays differ in shape: {ours.shape} vs {ref.shape}")
    w, h = image_size
    both = ~np.isnan(ours[:, 0, 0]) & ~np.isnan(ref[:, 0, 0])
    err = np.hypot((ours[..., 0] - ref[..., 0]) * w, (ours[..., 1] - ref[..., 1]) * h) / math.hypot(w, h)
    return err[(ref[..., 3] >= VISIBILITY_THRESHOLD) & both[:, None]]


def load_landmark_file(
    path: str | Path,
    label: Optional[str] = None,
    fps: Optional[float] = None,
    image_size: Optional[tuple[int, int]] = None,
) -> PoseSequence:
    """Read a (T, 33, 4) MediaPipe landmark file into a :class:`PoseSequence` (image frame).

    ``fps`` and ``image_size`` default to the sidecar's (``<stem>_mediapipe33.json``), else
    to the companion video's header; with neither they must be given, since normalised x
    and y mean nothing without the aspect ratio. ``label`` defaults to the sidecar's label,
    else the file stem.
    """
    path = Path(path)
    arr = read_landmark_array(path)
    sidecar = read_sidecar(path) if (fps is None or image_size is None or label is None) else None
    fps, image_size = resolve_timing(path, len(arr), fps, image_size, sidecar)
    if label is None and sidecar is not None and isinstance(sidecar.get("label"), str) and sidecar["label"]:
        label = sidecar["label"]
    width, height = image_size
    found = ~np.isnan(arr[..., 0]) & ~np.isnan(arr[..., 1])
    vis = np.nan_to_num(arr[..., 3], nan=0.0)
    mask = found & (vis >= VISIBILITY_THRESHOLD)
    points = np.zeros((len(arr), NUM_LANDMARKS, 3), dtype=np.float32)
    points[..., 0] = np.where(found, arr[..., 0], 0.0) * width
    points[..., 1] = np.where(found, arr[..., 1], 0.0) * height
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
