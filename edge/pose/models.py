"""Getting MediaPipe's BlazePose TFLite models without installing MediaPipe.

The native pose stage (:mod:`edge.pose.native`) runs MediaPipe's own models: the BlazePose
person detector (``pose_detection.tflite``) and the full landmark model
(``pose_landmark_full.tflite``), exactly as shipped inside the ``mediapipe==0.10.14`` wheel,
which is what the reference landmark files were recorded with. They are fetched once by
downloading that wheel with pip (no dependencies, nothing installed), reading the two files
out of it with :mod:`zipfile`, and checking their sha256, so the device never needs the
``mediapipe`` package (nor TensorFlow) to run.

Licence: both models are part of MediaPipe, (c) Google LLC, distributed under the Apache
License 2.0 (https://www.apache.org/licenses/LICENSE-2.0); see the model card
"BlazePose GHUM 3D" for their intended use. They are cached, not redistributed, by edgerec.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

MEDIAPIPE_VERSION = "0.10.14"

DETECTOR_NAME = "pose_detection.tflite"
LANDMARKER_NAME = "pose_landmark_full.tflite"

# file name -> (path inside the wheel, size in bytes, sha256)
MODEL_FILES: dict[str, tuple[str, int, str]] = {
    DETECTOR_NAME: (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        2_959_046,
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    ),
    LANDMARKER_NAME: (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        6_440_512,
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    ),
}


def pose_models_dir() -> Path:
    """The model cache: ``$EDGEREC_POSE_MODELS``, else ``$XDG_CACHE_HOME/edgerec/pose``
    (``~/.cache/edgerec/pose`` when XDG_CACHE_HOME is unset)."""
    env = os.environ.get("EDGEREC_POSE_MODELS")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "edgerec" / "pose"


def _download_wheel(tmp: Path) -> Path:
    """``pip download`` the mediapipe wheel for this platform into ``tmp``; its path."""
    cmd = [
        sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", str(tmp),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"pip download mediapipe=={MEDIAPIPE_VERSION} failed: {last}")
    wheels = sorted(tmp.glob("mediapipe-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download mediapipe=={MEDIAPIPE_VERSION} produced no wheel in {tmp}")
    return wheels[0]


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it into place, so a reader
    never sees a half-written model."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp_name, 0o644)  # mkstemp makes it owner-only
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def _extract(wheel: Path, dest: Path) -> None:
    """Copy the two models out of ``wheel`` into ``dest`` after checking their sha256."""
    with zipfile.ZipFile(wheel) as zf:
        payloads = {}
        for name, (member, size, sha) in MODEL_FILES.items():
            try:
                data = zf.read(member)
            except KeyError:
                raise ValueError(f"{wheel.name} has no {member}; is it a mediapipe {MEDIAPIPE_VERSION} wheel?") from None
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != size or digest != sha:
                raise ValueError(
                    f"checksum mismatch for {member} in {wheel.name}: "
                    f"got {len(data)} B sha256 {digest}, expected {size} B sha256 {sha}"
                )
            payloads[name] = data
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in payloads.items():
        _write_atomic(dest / name, data)


def fetch_pose_models(dest: Optional[Path] = None, wheel: Optional[Path] = None) -> Path:
    """Put the detector and landmark models in ``dest`` (default :func:`pose_models_dir`).

    Downloads the ``mediapipe==0.10.14`` wheel for this platform with pip into a temporary
    folder (or reads the local ``wheel`` given), extracts only the two models, verifies
    their sha256 (:class:`ValueError` on mismatch) and writes them atomically.
    Returns the folder.
    """
    dest = Path(dest) if dest is not None else pose_models_dir()
    if wheel is not None:
        _extract(Path(wheel), dest)
        return dest
    with tempfile.TemporaryDirectory(prefix="edgerec-mediapipe-") as tmp:
        _extract(_download_wheel(Path(tmp)), dest)
    return dest


def find_pose_models(dest: Optional[Path] = None) -> tuple[Path, Path]:
    """The cached (detector, landmarker) model paths; :class:`FileNotFoundError` naming
    the fix (``edgerec pose fetch``) when either is missing."""
    folder = Path(dest) if dest is not None else pose_models_dir()
    paths = (folder / DETECTOR_NAME, folder / LANDMARKER_NAME)
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"pose models not found in {folder} (missing {', '.join(missing)}); run: edgerec pose fetch"
        )
    return paths
