"""Dataset clips as MediaPipe-layout landmark files, to replay through ``edgerec run --poses``.

A world-frame clip (Music-to-Dance, CMU) is projected through a camera (the evaluation
camera by default, the one the cross-validation scores with); an image-frame clip keeps its
pixels. The result is the (T, 33, 4) layout of MediaPipe's legacy solution: x and y
normalised to the image width and height, z = 0 (unused by edgerec), visibility 1 where
the source has the landmark and 0 where it does not, NaN rows for frames without a body.
Only uniform-rate clips can be written, since the file stores no timestamps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from edge.core.files import atomic_write_bytes
from edge.core.schema import PoseSequence
from training.augment import EVAL_CAMERA, Camera, project


def landmark_array(seq: PoseSequence, camera: Camera = EVAL_CAMERA) -> tuple[np.ndarray, float, tuple[int, int]]:
    """(T, 33, 4) landmarks, frame rate and (width, height) for a sequence."""
    if seq.frame == "world":
        xy = project(seq.points.astype(np.float64), seq.mask, camera)
        size = tuple(int(v) for v in camera.image_size)
    else:
        if seq.image_size is None:
            raise ValueError(f"{seq.clip_id}: an image-frame clip without an image size cannot be normalised")
        xy = seq.points[..., :2].astype(np.float64)
        size = tuple(int(v) for v in seq.image_size)
    dt = np.diff(seq.times)
    if len(dt) and np.ptp(dt) > 1e-3 * float(np.median(dt)) + 1e-9:
        raise ValueError(f"{seq.clip_id}: frames are not evenly spaced; a landmark file cannot store that")
    fps = float(seq.fps)
    arr = np.zeros((len(xy), 33, 4), np.float32)
    arr[..., 0] = xy[..., 0] / size[0]
    arr[..., 1] = xy[..., 1] / size[1]
    arr[..., 3] = seq.mask.astype(np.float32)
    arr[~seq.mask.any(axis=1)] = np.nan
    return arr, fps, size  # type: ignore[return-value]


def export_poses(seq: PoseSequence, out: str | Path, camera: Camera = EVAL_CAMERA) -> tuple[Path, float, tuple[int, int]]:
    """Write a sequence as a landmark ``.npy``, atomically; returns (path, fps, size)."""
    import io

    arr, fps, size = landmark_array(seq, camera)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    path = Path(out)
    atomic_write_bytes(path, buf.getvalue())
    return path, fps, size


def find_clip(root: str | Path, clip_id: str) -> PoseSequence:
    """Load the clip ``clip_id`` (``source:name`` as the reports print it, or just ``name``)."""
    from training.datasets import discover, load

    name = clip_id.split(":", 1)[-1]
    hits = [load(r) for r in discover(root) if name in str(r.path)]
    exact = [s for s in hits if clip_id in (s.clip_id, s.clip_id.split(":", 1)[-1])]
    if len(exact) == 1:
        return exact[0]
    if not hits:
        raise ValueError(f"no clip called {clip_id!r} under {root}; `edgerec data info` lists the sources")
    raise ValueError(f"{clip_id!r} matches {len(exact or hits)} clips "
                     f"({', '.join(s.clip_id for s in (exact or hits)[:4])}); give the full clip id")
