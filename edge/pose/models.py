"""Getting MediaPipe's BlazePose TFLite models without installing MediaPipe.

The native pose stage (:mod:`edge.pose.native`) runs MediaPipe's own models: the BlazePose
person detector (``pose_detection.tflite``) and the full landmark model
(``pose_landmark_full.tflite``), exactly as shipped inside the ``mediapipe==0.10.14`` wheel,
which is what the reference landmark files were recorded with. They are fetched once by
downloading that wheel with pip (no dependencies, nothing installed), reading the two files
out of it with :mod:`zipfile`, and checking their sha256, so the device never needs the
``mediapipe`` package (nor TensorFlow) to run.

Quantised variants (:data:`POSE_VARIANTS`, :func:`converters.pose.build_pose_variants`): LiteRT cannot
re-quantise a finished ``.tflite``, so the two models are converted once to ONNX (tf2onnx,
after replacing the detector's block-sparse weights by their dense values, which tf2onnx
cannot read) and quantised with ONNX Runtime's tools. Only that build step needs
TensorFlow; every variant runs on LiteRT or ONNX Runtime alone.

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
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from edge.core.files import atomic_write_bytes, require_regular_file

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
    """Write ``data`` so a reader never sees a half-written model (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, data)


def _open_wheel(wheel: Path) -> zipfile.ZipFile:
    """The wheel as a zip archive; a one-line ValueError naming it when it is not a regular
    file (checked before opening: a FIFO would block) or not a readable zip."""
    fix = f"give a mediapipe-{MEDIAPIPE_VERSION} wheel (.whl), or leave out --wheel to download it"
    require_regular_file(wheel, "wheel", fix)  # before opening: a FIFO would block
    try:
        return zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{wheel}: not a wheel (not a readable zip archive: {detail}); {fix}") from None
    except OSError as exc:
        raise ValueError(f"{wheel}: cannot read the wheel ({exc.strerror or exc}); {fix}") from None


def _extract(wheel: Path, dest: Path) -> None:
    """Copy the two models out of ``wheel`` into ``dest`` after checking their sha256."""
    with _open_wheel(wheel) as zf:
        payloads = {}
        for name, (member, size, sha) in MODEL_FILES.items():
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise ValueError(f"{wheel.name} has no {member}; is it a mediapipe {MEDIAPIPE_VERSION} wheel?") from None
            if info.file_size != size:  # checked before decompressing anything
                raise ValueError(f"{wheel.name}: {member} is {info.file_size} B, expected {size} B; is it a mediapipe "
                                 f"{MEDIAPIPE_VERSION} wheel?")
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, OSError) as exc:
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ValueError(f"{wheel}: {member} is corrupt or truncated in the wheel ({detail}); "
                                 "download the wheel again") from None
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


def find_pose_models(dest: Optional[Path] = None, variant: str = "float32") -> tuple[Path, Path]:
    """The cached (detector, landmarker) model paths of ``variant`` (see
    :data:`POSE_VARIANTS`); :class:`FileNotFoundError` naming the fix (``edgerec pose
    fetch``, then the variant build) when either is missing, :class:`ValueError` for an
    unknown variant."""
    spec = pose_variant(variant)
    folder = Path(dest) if dest is not None else pose_models_dir()
    paths = (folder / spec.detector, folder / spec.landmarker)
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        fix = BUILD_COMMAND if spec.built else "edgerec pose fetch"
        raise FileNotFoundError(
            f"pose models ({variant}) not found in {folder} (missing {', '.join(missing)}); run: {fix}"
        )
    return paths


# --- variants ------------------------------------------------------------------------------
#
# The ONNX variants are derived from the fetched .tflite files by ``edgerec pose build``
# (converters.pose, which needs tf2onnx and therefore TensorFlow); running them needs only
# ONNX Runtime.

#: The command that builds the ONNX variants.
BUILD_COMMAND = "edgerec pose build"

@dataclass(frozen=True)
class PoseVariant:
    """One way to run the two pose models. The runtime follows the file suffix
    (``.tflite``: LiteRT, ``.onnx``: ONNX Runtime); ``built`` says the files are made by
    ``edgerec pose build`` (:mod:`converters.pose`) rather than fetched; ``calibrated``
    says the build needs calibration frames."""

    name: str
    detector: str
    landmarker: str
    description: str
    built: bool = False
    calibrated: bool = False

    def files(self) -> tuple[str, str]:
        return self.detector, self.landmarker


def _onnx_variant(name: str, tag: str, description: str, calibrated: bool = False) -> PoseVariant:
    return PoseVariant(name, f"pose_detection.{tag}.onnx", f"pose_landmark_full.{tag}.onnx",
                       description, True, calibrated)


#: The pose model variants, by name. ``float32`` is MediaPipe's own files (float16-stored
#: weights, float32 arithmetic) on LiteRT; the rest are built by :func:`converters.pose.build_pose_variants`.
POSE_VARIANTS: dict[str, PoseVariant] = {
    v.name: v for v in (
        PoseVariant("float32", DETECTOR_NAME, LANDMARKER_NAME, "MediaPipe's .tflite files on LiteRT (the reference)"),
        _onnx_variant("onnx", "float32", "the same models converted to ONNX, float32, on ONNX Runtime"),
        _onnx_variant("dynamic", "dynamic", "ONNX, weights uint8, activations quantised per call"),
        _onnx_variant("float16", "float16", "ONNX, weights and arithmetic float16"),
        _onnx_variant("int8", "int8", "ONNX, static int8 (QDQ), calibrated on video frames", calibrated=True),
    )
}


def pose_variant(name: str) -> PoseVariant:
    """The :class:`PoseVariant` called ``name``; :class:`ValueError` listing the choices."""
    try:
        return POSE_VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown pose variant {name!r}; choose one of {', '.join(POSE_VARIANTS)}") from None


def onnx_metadata(path: Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (what :func:`converters.pose.build_pose_variants` recorded),
    read with ONNX Runtime so no ``onnx`` package is needed."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(sess.get_modelmeta().custom_metadata_map)
