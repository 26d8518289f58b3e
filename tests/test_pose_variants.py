"""The native pose stage's model variants (``edge.pose.models.POSE_VARIANTS``): the table,
the build step, what the built files record, that running them imports neither TensorFlow
nor MediaPipe, and the accuracy of the variants shipped as accurate against MediaPipe
0.10.14's recorded landmarks.

The ONNX variants are built once into the pose cache by ``python -m edge.pose.models
build``; tests that need them skip, naming that command, when they are not built.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.pose import make_pose
from edge.pose.models import (
    BUILD_COMMAND,
    DETECTOR_NAME,
    LANDMARKER_NAME,
    MODEL_FILES,
    POSE_VARIANTS,
    find_pose_models,
    onnx_metadata,
    pose_variant,
)
from edge.pose.native import RUNTIMES, NativePose
from test_pose_native import assert_imports_none_of, run_on_reference

VIDEOS = ["ballet", "belly_dancing", "gangnam_style", "macarena"]
#: Variants whose landmarks held the reference test (median < 2% of the diagonal, at least
#: as many frames with a pose) on all four videos when measured. float16 misses the frame
#: count on belly_dancing (138 of 142); dynamic finds no person at all (the detector breaks)
#: and int8 tracks the wrong thing on ballet (median 33%) and invents poses on belly_dancing.
#: onnx (float32 on ONNX Runtime) agrees with LiteRT to ~3e-5 per output, but on ballet and
#: belly_dancing the tracking loop amplifies that until its tracker parts from MediaPipe's:
#: ballet's median error was 1.3% in the dev venv and 10.4% on numpy 2, so it is held to the
#: reference only on the videos where tracking is stable.
ACCURATE = ["float32"]
STABLE_ONLY = {"onnx": ["gangnam_style", "macarena"]}
slow = pytest.mark.slow


def _built(variant: str) -> tuple[Path, Path]:
    try:
        return find_pose_models(None, variant)
    except FileNotFoundError as exc:
        pytest.skip(f"pose variant {variant} not built ({exc})")


# --- the table --------------------------------------------------------------------------------


def test_every_variant_has_a_runtime_and_its_own_files() -> None:
    files = [f for v in POSE_VARIANTS.values() for f in v.files()]
    assert len(files) == len(set(files)), "two variants share a file"
    for name, v in POSE_VARIANTS.items():
        assert v.name == name
        assert Path(v.detector).suffix == Path(v.landmarker).suffix
        assert Path(v.detector).suffix in RUNTIMES
    assert POSE_VARIANTS["float32"].files() == (DETECTOR_NAME, LANDMARKER_NAME)
    assert not POSE_VARIANTS["float32"].built
    assert set(ACCURATE) <= set(POSE_VARIANTS) and set(STABLE_ONLY) <= set(POSE_VARIANTS)


def test_unknown_and_missing_variants_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="float32"):
        pose_variant("int4")
    with pytest.raises(ValueError, match="unknown pose variant"):
        NativePose(models_dir=tmp_path, variant="int4")
    with pytest.raises(FileNotFoundError, match="edgerec pose fetch"):
        find_pose_models(tmp_path, "float32")
    with pytest.raises(FileNotFoundError, match=BUILD_COMMAND):
        find_pose_models(tmp_path, "dynamic")
    with pytest.raises(ValueError, match="no variant"):
        make_pose("mediapipe", variant="int8")


# --- built files ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", [n for n, v in POSE_VARIANTS.items() if v.built])
def test_built_files_record_what_they_are(variant: str) -> None:
    det, lm = _built(variant)
    for path, source in ((det, DETECTOR_NAME), (lm, LANDMARKER_NAME)):
        meta = onnx_metadata(path)
        assert meta["edgerec.variant"] == variant
        assert meta["edgerec.source"] == source
        assert meta["edgerec.source_sha256"] == MODEL_FILES[source][2]
        assert float(meta["edgerec.conversion_rel_error"]) <= 1e-3
        assert "edgerec.tool.tf2onnx" in meta and "edgerec.tool.onnxruntime" in meta
        if POSE_VARIANTS[variant].calibrated:
            assert "frame" in meta["edgerec.calibration"]


@pytest.mark.parametrize("variant", [n for n, v in POSE_VARIANTS.items() if v.built])
def test_variant_runtime_imports_neither_tensorflow_nor_mediapipe(variant: str) -> None:
    _built(variant)
    assert_imports_none_of(
        "import numpy as np\n"
        "from edge.pose import make_pose\n"
        f"pose = make_pose('native', variant={variant!r})\n"
        "pose.process(np.zeros((120, 160, 3), np.uint8))\n"
        "pose.close()\n",
        ("tensorflow", "mediapipe", "onnx", "tf2onnx"))


@slow
def test_build_writes_the_variants_atomically(tmp_path: Path) -> None:
    """Builds the uncalibrated variants from the cached sources into a scratch folder
    (about 25 s: two tf2onnx conversions, each checked against LiteRT)."""
    pytest.importorskip("tf2onnx")
    try:
        sources = find_pose_models()
    except FileNotFoundError as exc:
        pytest.skip(f"pose models not cached ({exc})")
    from converters.pose import build_pose_variants

    for src in sources:
        shutil.copy(src, tmp_path / src.name)
    written = build_pose_variants(tmp_path, ["onnx", "dynamic"])
    expected = {tmp_path / f for n in ("onnx", "dynamic") for f in POSE_VARIANTS[n].files()}
    assert set(written) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*(p.name for p in expected), *(s.name for s in sources)})
    # the int8 variant needs calibration videos: asked for without, it is skipped
    assert build_pose_variants(tmp_path, ["int8"]) == []
    # the sources are untouched
    for src in sources:
        assert hashlib.sha256((tmp_path / src.name).read_bytes()).hexdigest() == MODEL_FILES[src.name][2]
    pose = NativePose(models_dir=tmp_path, variant="onnx")
    assert not pose.process(np.zeros((120, 160, 3), np.uint8)).found
    pose.close()


# --- against MediaPipe's own output -----------------------------------------------------------


@pytest.mark.parametrize("variant, video", [(v, video) for v in ACCURATE if v != "float32" for video in VIDEOS]
                         + [(v, video) for v, videos in STABLE_ONLY.items() for video in videos])
def test_variant_matches_mediapipe_reference(variant: str, video: str, data_root: Path) -> None:
    """The same bound as tests/test_pose_native.py's float32 test: median error under 2% of
    the diagonal and a pose in at least as many frames as MediaPipe (4 to 7 s per video, like
    the float32 test, so not marked slow)."""
    _built(variant)
    err, found, ref_found = run_on_reference(NativePose(variant=variant), data_root, video)
    print(f"{variant} {video}: median {100 * np.median(err):.3f}% p90 {100 * np.percentile(err, 90):.3f}%; "
          f"frames with a pose {found} (reference {ref_found})")
    assert float(np.median(err)) < 0.02
    assert found >= ref_found

