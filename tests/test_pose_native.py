"""The native BlazePose stage: its geometry on synthetic input, its imports, and its output
against MediaPipe 0.10.14's recorded landmarks on the four example videos."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.pose import native
from edge.pose.models import find_pose_models

REPO = Path(__file__).resolve().parents[1]
VIDEOS = ["ballet", "belly_dancing", "gangnam_style", "macarena"]


@pytest.fixture(scope="module")
def pose_models() -> tuple[Path, Path]:
    try:
        return find_pose_models()
    except FileNotFoundError as exc:
        pytest.skip(f"pose models not cached ({exc})")


# --- geometry on synthetic input ------------------------------------------------------------


def test_anchors_match_the_detector_output() -> None:
    anchors = native.ssd_anchors()
    assert anchors.shape == (native.NUM_ANCHORS, 2) == (2254, 2)
    # 28x28 cells x 2 anchors, 14x14 x 2, then 7x7 x 6 (three stride-32 layers share a map)
    assert np.allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    assert np.allclose(anchors[1], anchors[0])
    assert np.allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    assert np.allclose(anchors[-1], [6.5 / 7, 6.5 / 7])
    assert np.all((anchors > 0) & (anchors < 1))


def test_decode_detections_applies_anchor_offsets_and_threshold() -> None:
    anchors = native.ssd_anchors()
    raw = np.zeros((native.NUM_ANCHORS, 12), np.float32)
    raw[5, :4] = [22.4, -22.4, 44.8, 22.4]  # +0.1, -0.1 in x, y; 0.2 x 0.1 box
    raw[5, 4:6] = [11.2, 0.0]
    logits = np.full(native.NUM_ANCHORS, -10.0, np.float32)
    logits[5] = 3.0
    boxes, kps, scores = native.decode_detections(raw, logits, anchors, 0.5)
    assert boxes.shape == (1, 4) and kps.shape == (1, 4, 2)
    cx, cy = anchors[5] + [0.1, -0.1]
    assert np.allclose(boxes[0], [cx - 0.1, cy - 0.05, 0.2, 0.1], atol=1e-6)
    assert np.allclose(kps[0, 0], anchors[5] + [0.05, 0.0], atol=1e-6)
    assert np.allclose(kps[0, 1], anchors[5], atol=1e-6)
    assert scores[0] == pytest.approx(1 / (1 + math.exp(-3.0)), rel=1e-6)


def test_weighted_nms_averages_overlapping_detections() -> None:
    boxes = np.array([[0.10, 0.10, 0.20, 0.20],  # xmin, ymin, w, h
                      [0.12, 0.10, 0.20, 0.20],  # IoU with the first ~0.82
                      [0.60, 0.60, 0.20, 0.20]], np.float32)  # apart
    kps = np.array([[[0.2, 0.2]] * 4, [[0.3, 0.2]] * 4, [[0.7, 0.7]] * 4], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    out_b, out_k, out_s = native.weighted_nms(boxes, kps, scores, 0.3)
    assert out_s.tolist() == pytest.approx([0.9, 0.8])
    w = np.array([0.9, 0.6]) / 1.5
    assert np.allclose(out_k[0, 0], w[0] * kps[0, 0] + w[1] * kps[1, 0], atol=1e-6)
    assert np.allclose(out_b[0], w[0] * boxes[0] + w[1] * boxes[1], atol=1e-6)
    assert np.allclose(out_k[1], kps[2]) and np.allclose(out_b[1], boxes[2])
    only, _, _ = native.weighted_nms(boxes, kps, scores, 0.3, max_detections=1)
    assert len(only) == 1


def test_alignment_rect_is_square_and_upright_for_a_vertical_body() -> None:
    # 200x100 image, hip centre in the middle, scale point 20 px straight above it
    rect = native.alignment_rect((0.5, 0.5), (0.5, 0.3), (200, 100))
    assert rect[0] == pytest.approx(0.5) and rect[1] == pytest.approx(0.5)
    assert rect[2] * 200 == pytest.approx(40) and rect[3] * 100 == pytest.approx(40)
    assert rect[4] == pytest.approx(0.0, abs=1e-7)
    scaled = native.alignment_rect((0.5, 0.5), (0.5, 0.3), (200, 100), 1.25)
    assert scaled[2] * 200 == pytest.approx(50) and scaled[3] * 100 == pytest.approx(50)
    # scale point to the right: the body lies on its side, rotated by +90 degrees
    side = native.alignment_rect((0.5, 0.5), (0.6, 0.5), (200, 100))
    assert side[4] == pytest.approx(math.pi / 2, abs=1e-6)


def test_projection_inverts_the_rotated_crop() -> None:
    rect = np.array([0.4, 0.6, 0.5, 0.25, math.pi / 2], np.float32)  # square in a 100x200 image
    pts = np.array([[0.5, 0.5, 0.1], [1.0, 0.5, 0.0], [0.5, 0.0, 0.0]], np.float32)
    out = native.project_landmarks(pts, rect)
    assert np.allclose(out[0], [0.4, 0.6, 0.05], atol=1e-6)
    # crop +x (right) turns into image +y (down) under a +90 degree rotation
    assert np.allclose(out[1, :2], [0.4, 0.6 + 0.125], atol=1e-6)
    assert np.allclose(out[2, :2], [0.4 + 0.25, 0.6], atol=1e-6)
    # the pixel rect the crop uses is the normalised rect in pixels, already square
    px, pad = native.roi_to_pixels(rect, (100, 200), 256)
    assert np.allclose(px[:4], [40, 120, 50, 50]) and np.allclose(pad, 0)


def test_heatmap_refinement_moves_confident_points_only() -> None:
    heatmap = np.full((64, 64, 2), -10.0, np.float32)
    heatmap[20, 31, 0] = 5.0  # a sharp peak near landmark 0
    xy = np.array([[30.5 / 64, 21.2 / 64], [10.0 / 64, 10.0 / 64]], np.float32)
    out = native.refine_from_heatmap(xy, heatmap, kernel=9)
    assert out[0] == pytest.approx([31 / 64, 20 / 64], abs=2e-3)
    assert np.array_equal(out[1], xy[1])  # nothing confident there


def test_one_euro_filter_holds_a_constant_and_follows_a_jump() -> None:
    f = native.OneEuroFilter(0.05, 80.0, 1.0)
    values = [f.apply(33_333_000 * (i + 1), 1 / 100, np.array([5.0, 7.0])) for i in range(5)]
    assert np.allclose(values[-1], [5.0, 7.0])
    jumped = f.apply(33_333_000 * 6, 1 / 100, np.array([25.0, 7.0]))
    assert 5.0 < jumped[0] < 25.0 and jumped[1] == pytest.approx(7.0)


def assert_imports_none_of(code: str, banned: tuple[str, ...]) -> None:
    """Run ``code`` in a fresh interpreter and fail if it imported any ``banned`` package.
    Shared by the variant tests."""
    probe = (code + "\nimport sys\n"
             f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {banned!r})\n"
             "print(bad)\nsys.exit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_native_pose_imports_neither_tensorflow_nor_mediapipe() -> None:
    assert_imports_none_of(
        "import edge.pose.native as n\n"
        "try:\n"
        "    n.NativePose().close()\n"
        "except FileNotFoundError:\n"
        "    pass\n",
        ("tensorflow", "mediapipe"))


def test_process_without_a_person_and_after_close(pose_models) -> None:
    pose = native.NativePose()
    res = pose.process(np.zeros((120, 160, 3), np.uint8))
    assert not res.found and res.detected
    pose.close()
    with pytest.raises(RuntimeError):
        pose.process(np.zeros((120, 160, 3), np.uint8))


# --- against MediaPipe's own output -----------------------------------------------------------


def run_on_reference(pose, data_root: Path, video: str, check=None) -> tuple[np.ndarray, int, int]:
    """Run ``pose`` over every frame of a shared video and compare with MediaPipe's reference.

    Returns the error of each visible reference landmark (as a fraction of the image
    diagonal, on frames where both found a pose), the frames with a pose, and the
    reference's count. ``check(result)`` is called on every frame with a pose. Shared by the
    variant tests.
    """
    from edge.pose.native import read_frames

    mp4 = data_root / "videos" / f"{video}.mp4"
    ref_path = data_root / "videos" / f"{video}_mediapipe33.npy"
    if not mp4.exists() or not ref_path.exists():
        pytest.skip(f"{mp4.name} or its reference is not in {mp4.parent}")
    ref = np.load(ref_path)
    frames = read_frames(mp4)
    assert len(frames) == len(ref)
    h, w = frames[0].shape[:2]
    out = np.full(ref.shape, np.nan, np.float32)
    for i, frame in enumerate(frames):
        res = pose.process(frame)
        if res.found:
            if check is not None:
                check(res)
            out[i] = res.landmarks
    pose.close()
    both = ~np.isnan(out[:, 0, 0]) & ~np.isnan(ref[:, 0, 0])
    err = np.hypot((out[..., 0] - ref[..., 0]) * w, (out[..., 1] - ref[..., 1]) * h) / math.hypot(w, h)
    found, ref_found = int((~np.isnan(out[:, 0, 0])).sum()), int((~np.isnan(ref[:, 0, 0])).sum())
    return err[(ref[..., 3] >= 0.5) & both[:, None]], found, ref_found


@pytest.mark.parametrize("video", VIDEOS)
def test_matches_mediapipe_reference(video: str, data_root: Path, pose_models) -> None:
    """Median landmark error under 2% of the image diagonal, and a pose in at least as many
    frames as MediaPipe found one.

    The landmarks are not bit-identical (LiteRT's XNNPACK differs from MediaPipe's bundled
    TFLite by an ulp in a few outputs), and tracking feeds every frame's landmarks into the
    next crop, so on fast, ambiguous motion (ballet, belly_dancing) the two trackers drift
    apart for a while; the median stays well under the bound, the tail does not.
    """
    def check(res) -> None:
        assert res.landmarks.shape == (33, 4) and res.world.shape == (33, 3)
        assert np.all((res.landmarks[:, 3] >= 0) & (res.landmarks[:, 3] <= 1))

    pose = native.NativePose()
    err, found, ref_found = run_on_reference(pose, data_root, video, check)
    median = float(np.median(err))
    print(f"{video}: median {100 * median:.3f}% p90 {100 * np.percentile(err, 90):.3f}% "
          f"of the diagonal; frames with a pose {found} (reference {ref_found}); "
          f"detector calls {pose.detector_calls}")
    assert median < 0.02
    assert found >= ref_found
