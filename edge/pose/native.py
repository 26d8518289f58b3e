"""MediaPipe BlazePose (33 landmarks) on LiteRT, without the ``mediapipe`` package.

:class:`NativePose` runs MediaPipe's own ``pose_detection.tflite`` and
``pose_landmark_full.tflite`` (see :mod:`edge.pose.models`) with ``ai_edge_litert`` and
re-implements, in numpy and OpenCV, the parts of MediaPipe 0.10.14's ``PoseLandmarkCpu``
graph that the legacy ``mp.solutions.pose.Pose(static_image_mode=False,
model_complexity=1)`` solution runs, so its output matches the recorded reference files
without pulling MediaPipe (or TensorFlow) onto the device:

* ``PoseDetectionCpu``: letterboxed 224x224 input in [-1, 1], SSD anchors, box and
  keypoint decoding, sigmoid scores, weighted non-max suppression, letterbox removal;
* ``PoseDetectionToRoi`` / ``PoseLandmarksToRoi``: a square, rotated region from two
  alignment points (hip centre and the full-body scale point), scaled by 1.25;
* ``PoseLandmarkByRoiCpu``: a rotated 256x256 crop in [0, 1] (border replicate),
  landmark decoding, heatmap refinement (kernel 9), projection back to the image;
* ``PoseLandmarkFiltering``: visibility low-pass (alpha 0.1) and One Euro filters on the
  landmarks (min cutoff 0.05, beta 80), the world landmarks (0.1, 40, unscaled) and the
  auxiliary landmarks that drive tracking (0.01, 10);
* tracking: the next frame's region comes from this frame's auxiliary landmarks, and the
  detector only runs when there is no region (first frame, or the person was lost).

Crops use the same ``cv2.boxPoints`` / ``getPerspectiveTransform`` / ``warpPerspective``
calls as MediaPipe's OpenCV image-to-tensor converter, so the model inputs are the same.

``variant`` picks the model files (:data:`edge.pose.models.POSE_VARIANTS`: MediaPipe's
float32 ``.tflite`` files, or their ONNX float32/float16/int8 builds); the runtime follows
the file suffix (:data:`RUNTIMES`), and all the processing above is the same for every one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from edge.core.optional import require
from edge.core.stdio import drop_native_lines
from edge.pose.base import NUM_LANDMARKS, PoseResult
from edge.pose.models import find_pose_models, pose_variant

# --- model geometry (pose_detection_cpu.pbtxt, pose_landmark_by_roi_cpu.pbtxt) -------------

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_ANCHORS = 2254
NUM_ALL_LANDMARKS = 39  # 33 pose + 2 auxiliary (ROI) + 4 unused
# The 0.10.14 wheel refines with the calculator's default kernel, 9 (not the kernel_size: 7
# in the upstream pbtxt): kernel 9 reproduces the reference to 1e-3 heatmap cells, 7 does not.
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5
NMS_IOU = 0.3
SCORE_CLIP = 100.0
ROI_SCALE = 1.25
TARGET_ANGLE = math.pi / 2  # rotation_vector_target_angle_degrees: 90

# SolutionBase stamps frames 33333 us apart, starting at 33333 us (it increments first).
# The start matters: the One Euro filter passes a frame at time 0 through unfiltered.
DEFAULT_STEP_US = 33333

# (min_cutoff, beta, derivate_cutoff) from pose_landmark_filtering.pbtxt
LANDMARK_FILTER = (0.05, 80.0, 1.0)
WORLD_FILTER = (0.1, 40.0, 1.0)
AUX_FILTER = (0.01, 10.0, 1.0)
VISIBILITY_ALPHA = 0.1


# --- float32 arithmetic as the C++ does it ------------------------------------------------
#
# Tracking feeds each frame's landmarks back into the next frame's crop, and the landmark
# model reacts to sub-pixel changes of the crop (a 0.01 px shift of the region can move an
# uncertain wrist by pixels), so small rounding differences grow over a video. Everything
# between the model outputs and the next crop is therefore computed with MediaPipe's
# float32 operations, in the same order, with the C library's float functions.

_F = np.float32


def _load_libm():
    """The C math library, for the float functions MediaPipe calls (atan2f, cosf, ...):
    glibc's are not always correctly rounded, and one ulp in a ROI angle is enough to
    change later frames. None where it cannot be loaded (then double-and-round is used)."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        for fn, nargs in (("expf", 1), ("cosf", 1), ("sinf", 1), ("atan2f", 2)):
            getattr(lib, fn).restype = ctypes.c_float
            getattr(lib, fn).argtypes = [ctypes.c_float] * nargs
        return lib
    except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
        return None


_LIBM = _load_libm()


def _cosf(x) -> np.float32:
    return _F(_LIBM.cosf(float(x))) if _LIBM else _F(math.cos(float(x)))


def _sinf(x) -> np.float32:
    return _F(_LIBM.sinf(float(x))) if _LIBM else _F(math.sin(float(x)))


def _atan2f(y, x) -> np.float32:
    return _F(_LIBM.atan2f(float(y), float(x))) if _LIBM else _F(math.atan2(float(y), float(x)))


def _expf(x: np.ndarray) -> np.ndarray:
    """``std::exp`` on float32 arrays: exp in double rounded to float32, which is what
    glibc's expf returns except next to a rounding midpoint; those few go to libm."""
    x = np.asarray(x, _F)
    with np.errstate(over="ignore"):
        e64 = np.exp(x.astype(np.float64))
        out = e64.astype(_F)
        if _LIBM is not None:
            ulp = np.spacing(out).astype(np.float64)
            frac = np.abs((e64 - out.astype(np.float64)) / np.where(np.isfinite(ulp), ulp, 1.0))
            for i in np.flatnonzero(np.isfinite(out) & (np.abs(frac - 0.5) < 1e-3)):
                out.flat[i] = _LIBM.expf(float(x.flat[i]))
    return out


def _sigmoidf(x: np.ndarray) -> np.ndarray:
    """``1.0f / (1.0f + std::exp(-x))`` on float32."""
    e = _expf(-np.asarray(x, _F))
    return (_F(1.0) / (_F(1.0) + e)).astype(_F)


def _normalize_radians(angle) -> np.float32:
    a = float(_F(angle))
    return _F(a - 2 * math.pi * math.floor((a - (-math.pi)) / (2 * math.pi)))


# --- detector: anchors, decoding, NMS ---------------------------------------------------


def ssd_anchors(
    input_size: int = DETECTOR_SIZE,
    strides: tuple[int, ...] = (8, 16, 32, 32, 32),
    num_layers: int = 5,
) -> np.ndarray:
    """Anchor centres (N, 2) float32 as ``SsdAnchorsCalculator`` makes them for the detector.

    With ``fixed_anchor_size: true`` every anchor is 1x1, so only the centres matter.
    Consecutive layers with the same stride share a feature map; each layer adds two anchors
    per cell (aspect ratio 1.0 and the interpolated scale), cells in row-major order.
    """
    centres = []
    layer = 0
    while layer < num_layers:
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        fm = int(math.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(_F)


def decode_detections(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``TensorsToDetectionsCalculator`` for the pose detector.

    ``raw_boxes`` (N, 12): x, y, w, h, then 4 keypoints (x, y), in 224-pixel units relative
    to the anchor centre; ``raw_scores`` (N,) logits. Returns, for the anchors whose sigmoid
    score is at least ``min_score``: boxes (M, 4) as xmin, ymin, width, height, keypoints
    (M, 4, 2) and scores (M,), float32, normalised to the letterboxed detector input.
    """
    logits = np.clip(raw_scores.reshape(-1).astype(_F), -SCORE_CLIP, SCORE_CLIP)
    scores = _sigmoidf(logits)
    keep = np.flatnonzero(scores >= _F(min_score))
    raw = raw_boxes.reshape(-1, 12)[keep].astype(_F)
    anc = anchors[keep]
    scale = _F(DETECTOR_SIZE)
    cx = raw[:, 0] / scale + anc[:, 0]  # anchor w, h are 1
    cy = raw[:, 1] / scale + anc[:, 1]
    w = raw[:, 2] / scale
    h = raw[:, 3] / scale
    xmin, ymin = cx - w / _F(2), cy - h / _F(2)
    xmax, ymax = cx + w / _F(2), cy + h / _F(2)
    boxes = np.stack([xmin, ymin, xmax - xmin, ymax - ymin], axis=1)
    kps = raw[:, 4:12].reshape(-1, 4, 2) / scale + anc[:, None, :]
    ok = (boxes[:, 2] >= 0) & (boxes[:, 3] >= 0)
    return boxes[ok], kps[ok].astype(_F), scores[keep][ok]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (xmin, ymin, w, h) box with many, float32, 0 when they do not touch."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    touch = (x0 <= x1) & (y0 <= y1)
    inter = np.where(touch, (x1 - x0) * (y1 - y0), _F(0))
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, _F(1)), _F(0)).astype(_F)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU,
    max_detections: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-max suppression (``NonMaxSuppressionCalculator``).

    Takes the best remaining detection, gathers every remaining detection overlapping it by
    more than ``iou_threshold`` (itself included), and replaces its box (xmin, ymin, w, h)
    and keypoints by their score-weighted mean; the score stays the best one's. Returns
    arrays in the layout of the inputs, best first, at most ``max_detections`` when > 0.
    """
    boxes = np.asarray(boxes, _F)
    keypoints = np.asarray(keypoints, _F)
    scores = np.asarray(scores, _F)
    order = np.argsort(-scores, kind="stable")
    out_b, out_k, out_s = [], [], []
    while order.size:
        top = order[0]
        sim = _iou(boxes[top], boxes[order])
        cluster = order[sim > _F(iou_threshold)]
        rest = order[~(sim > _F(iou_threshold))]
        if cluster.size == 0:  # a zero-area best box overlaps nothing, not even itself
            out_b.append(boxes[top])
            out_k.append(keypoints[top])
        else:
            # float32 running sums in score order, as the C++ accumulates them
            w = scores[cluster]
            corners = np.concatenate([boxes[cluster, :2], boxes[cluster, :2] + boxes[cluster, 2:]], axis=1)
            total = np.cumsum(w, dtype=_F)[-1]
            acc_b = np.cumsum(corners * w[:, None], axis=0, dtype=_F)[-1] / total
            acc_k = np.cumsum(keypoints[cluster] * w[:, None, None], axis=0, dtype=_F)[-1] / total
            out_b.append(np.concatenate([acc_b[:2], acc_b[2:] - acc_b[:2]]))
            out_k.append(acc_k)
        out_s.append(scores[top])
        if 0 < max_detections <= len(out_s):
            break
        order = rest if cluster.size else order[1:]
    if not out_s:
        return np.zeros((0, 4), _F), np.zeros((0,) + keypoints.shape[1:], _F), np.zeros(0, _F)
    return np.asarray(out_b, _F), np.asarray(out_k, _F), np.asarray(out_s, _F)


# --- regions of interest -----------------------------------------------------------------


def alignment_rect(
    centre, scale_point, image_size: tuple[int, int], scale: Optional[float] = None
) -> np.ndarray:
    """``AlignmentPointsRectsCalculator``, then ``RectTransformationCalculator`` when
    ``scale`` is given: a square rect centred on ``centre`` whose side is twice the distance
    to ``scale_point`` (times ``scale``), rotated so that centre->scale_point points up.

    Points are normalised (x, y); ``image_size`` is (width, height). Returns the normalised
    rect (x_center, y_center, width, height, rotation in radians) as float32 (5,).
    """
    w_img, h_img = _F(image_size[0]), _F(image_size[1])
    x_c, y_c = _F(centre[0]) * w_img, _F(centre[1]) * h_img
    x_s, y_s = _F(scale_point[0]) * w_img, _F(scale_point[1]) * h_img
    dx, dy = x_s - x_c, y_s - y_c
    box = np.sqrt(dx * dx + dy * dy) * _F(2)
    target = _F(math.pi * 90.0 / 180.0)
    rotation = _normalize_radians(target - _atan2f(-(y_s - y_c), dx))
    width, height = box / w_img, box / h_img
    if scale is not None:
        long_side = max(width * w_img, height * h_img)
        width, height = long_side / w_img * _F(scale), long_side / h_img * _F(scale)
    return np.array([x_c / w_img, y_c / h_img, width, height, rotation], _F)


def roi_to_pixels(roi: np.ndarray, image_size: tuple[int, int], tensor_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``GetRoi`` + ``PadRoi``: the pixel rect (cx, cy, w, h, rotation) that
    ``ImageToTensorCalculator`` crops for a square tensor (the rect grown to the tensor's
    aspect ratio), and the letterbox padding (left, top, right, bottom) it implies."""
    w_img, h_img = _F(image_size[0]), _F(image_size[1])
    cx, cy = _F(roi[0]) * w_img, _F(roi[1]) * h_img
    w, h = _F(roi[2]) * w_img, _F(roi[3]) * h_img
    tensor_aspect = _F(tensor_size) / _F(tensor_size)
    roi_aspect = h / w
    pad = np.zeros(4, _F)
    if tensor_aspect > roi_aspect:
        new_w, new_h = w, w * tensor_aspect
        pad[[1, 3]] = (_F(1) - roi_aspect / tensor_aspect) / _F(2)
    else:
        new_w, new_h = h / tensor_aspect, h
        pad[[0, 2]] = (_F(1) - tensor_aspect / roi_aspect) / _F(2)
    return np.array([cx, cy, new_w, new_h, _F(roi[4])], _F), pad


def crop_rotated(image: np.ndarray, rect_px: np.ndarray, size: int, border_zero: bool) -> np.ndarray:
    """The uint8 (size, size, C) crop of a rotated pixel rect (cx, cy, w, h, radians),
    made with the same OpenCV calls as MediaPipe's ``ImageToTensorOpenCvConverter``."""
    cv2 = require("cv2", "edge", "opencv-python-headless")
    cx, cy, w, h, rot = (float(v) for v in np.asarray(rect_px, _F))
    angle = float(_F(float(_F(rot) * _F(180.0)) / math.pi))
    src = cv2.boxPoints(((cx, cy), (w, h), angle))
    dst = np.array([[0, size], [0, 0], [size, 0], [size, size]], _F)
    matrix = cv2.getPerspectiveTransform(src.astype(_F), dst)
    return cv2.warpPerspective(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE,
    )


def project_landmarks(points: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """``LandmarkProjectionCalculator``: crop-normalised (N, 3) x, y, z -> image-normalised,
    un-rotating about the rect centre; z is scaled like x (by the rect's width). float32."""
    points = np.asarray(points, _F)
    rect = np.asarray(rect, _F)
    c, s = _cosf(rect[4]), _sinf(rect[4])
    x = points[:, 0] - _F(0.5)
    y = points[:, 1] - _F(0.5)
    out = np.empty_like(points)
    out[:, 0] = (c * x - s * y) * rect[2] + rect[0]
    out[:, 1] = (s * x + c * y) * rect[3] + rect[1]
    out[:, 2] = points[:, 2] * rect[2]
    return out


def refine_from_heatmap(
    xy: np.ndarray, heatmap: np.ndarray, kernel: int = HEATMAP_KERNEL, min_confidence: float = HEATMAP_MIN_CONFIDENCE
) -> np.ndarray:
    """``RefineLandmarksFromHeatmapCalculator``: replace each crop-normalised (x, y) by the
    sigmoid-weighted mean cell position in a ``kernel``-wide window of its heatmap channel,
    where the window's peak confidence reaches ``min_confidence``.

    Mirrors the C++ exactly: truncation of the centre cell toward zero, its bounds check
    (which tests the column twice and never the row against the height), windows clipped
    at the edges, float32 sums accumulated row by row.
    """
    xy = np.asarray(xy, _F)
    hm_h, hm_w, n = heatmap.shape
    col = np.trunc(xy[:, 0] * _F(hm_w)).astype(np.int64)
    row = np.trunc(xy[:, 1] * _F(hm_h)).astype(np.int64)
    inside = (col >= 0) & (col < hm_w) & (row >= 0) & (col < hm_h)
    off = np.arange(kernel) - (kernel - 1) // 2
    rows = row[:, None] + off  # (n, k)
    cols = col[:, None] + off
    valid = ((rows >= 0) & (rows < hm_h))[:, :, None] & ((cols >= 0) & (cols < hm_w))[:, None, :]
    ch = np.arange(n)[:, None, None]
    vals = heatmap[np.clip(rows, 0, hm_h - 1)[:, :, None], np.clip(cols, 0, hm_w - 1)[:, None, :], ch]
    # Cells outside the heatmap add exactly 0.0f, which leaves float sums unchanged.
    conf = np.where(valid, _sigmoidf(vals), _F(0)).reshape(n, -1)
    rr = np.broadcast_to(rows[:, :, None], valid.shape).reshape(n, -1).astype(_F)
    cc = np.broadcast_to(cols[:, None, :], valid.shape).reshape(n, -1).astype(_F)
    total = np.cumsum(conf, axis=1, dtype=_F)[:, -1]
    wc = np.cumsum(cc * conf, axis=1, dtype=_F)[:, -1]
    wr = np.cumsum(rr * conf, axis=1, dtype=_F)[:, -1]
    peak = conf.max(axis=1)
    use = inside & (peak >= _F(min_confidence)) & (total > 0)
    out = xy.copy()
    safe = np.where(total > 0, total, _F(1))
    out[use, 0] = (wc / _F(hm_w) / safe)[use]
    out[use, 1] = (wr / _F(hm_h) / safe)[use]
    return out


# --- temporal filters ----------------------------------------------------------------------


class _LowPass:
    """MediaPipe's ``LowPassFilter`` over an array: float32 state, and the C++ expression
    ``alpha * value + (1.0 - alpha) * stored`` with its mixed float/double evaluation."""

    def __init__(self) -> None:
        self.raw: Optional[np.ndarray] = None
        self.stored: Optional[np.ndarray] = None

    def apply(self, value: np.ndarray, alpha) -> np.ndarray:
        value = np.asarray(value, _F)
        if self.stored is None:
            result = value.copy()
        else:
            alpha = np.asarray(alpha, _F)
            result = ((alpha * value).astype(np.float64) + (1.0 - alpha.astype(np.float64)) * self.stored).astype(_F)
        self.raw = value.copy()
        self.stored = result
        return result


class OneEuroFilter:
    """MediaPipe's ``OneEuroFilter`` applied element-wise to an array of coordinates.

    All elements share timestamps, so the sampling frequency is one scalar; ``value_scale``
    (the inverse object size in pixels) makes the speed term size-independent. Parameters
    arrive as float32 (proto floats) and are used in double, as in the C++.
    """

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float, frequency: float = 30.0) -> None:
        self.min_cutoff = float(_F(min_cutoff))
        self.beta = float(_F(beta))
        self.derivate_cutoff = float(_F(derivate_cutoff))
        self.default_frequency = float(_F(frequency))
        self.reset()

    def reset(self) -> None:
        self.frequency = self.default_frequency
        self.last_ns = 0
        self.x = _LowPass()
        self.dx = _LowPass()

    def _alpha(self, cutoff):
        te = 1.0 / self.frequency
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / te)

    def apply(self, t_ns: int, value_scale: float, value: np.ndarray) -> np.ndarray:
        value = np.asarray(value, _F)
        if self.last_ns >= t_ns:  # the C++ passes values through on a non-increasing clock
            return value
        if self.last_ns != 0 and t_ns != 0:
            self.frequency = 1.0 / ((t_ns - self.last_ns) * 1e-9)
        self.last_ns = t_ns
        if self.x.raw is None:
            dvalue = np.zeros(value.shape)
        else:
            dvalue = (value.astype(np.float64) - self.x.raw) * float(value_scale) * self.frequency
        edvalue = self.dx.apply(dvalue, _F(self._alpha(self.derivate_cutoff)))
        cutoff = self.min_cutoff + self.beta * np.abs(edvalue.astype(np.float64))
        return self.x.apply(value, self._alpha(cutoff))


class _LandmarkSmoother:
    """``VisibilitySmoothingCalculator`` (low-pass) then ``LandmarksSmoothingCalculator``
    (One Euro on x, y, z in pixels, z scaled by the image width) for one landmark list."""

    def __init__(self, params: tuple[float, float, float], scaled: bool = True) -> None:
        self.coords = OneEuroFilter(*params)
        self.visibility = _LowPass()
        self.scaled = scaled

    def reset(self) -> None:
        self.coords.reset()
        self.visibility = _LowPass()

    def apply(self, lms: np.ndarray, t_ns: int, scale_px: Optional[np.ndarray], object_scale) -> np.ndarray:
        """``lms`` (N, 4) float32 x, y, z, visibility. ``scale_px`` (3,) turns normalised
        x, y, z into pixels (None for world landmarks, filtered as they are)."""
        out = lms.copy()
        out[:, 3] = self.visibility.apply(lms[:, 3], _F(VISIBILITY_ALPHA))
        value_scale = _F(1)
        if self.scaled:
            if object_scale < 1e-6:
                return out
            value_scale = _F(1) / _F(object_scale)
        values = lms[:, :3] * scale_px if scale_px is not None else lms[:, :3]
        filtered = self.coords.apply(t_ns, value_scale, values)
        out[:, :3] = filtered / scale_px if scale_px is not None else filtered
        return out


# --- model runtimes -----------------------------------------------------------------------

Shape = tuple[int, ...]


class LiteRTModel:
    """A ``.tflite`` model on LiteRT (XNNPACK): one float32 input, the outputs asked for by
    their shape without the batch axis, in that order."""

    def __init__(self, path: Path, threads: int, outputs: Sequence[Shape]) -> None:
        litert = require("ai_edge_litert.interpreter", "edge", "ai-edge-litert")
        with drop_native_lines():
            self._interp = litert.Interpreter(model_path=str(path), num_threads=threads)
            self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        by_shape = {tuple(int(v) for v in d["shape"][1:]): d["index"] for d in self._interp.get_output_details()}
        self._outputs = [by_shape[s] for s in outputs]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        self._interp.set_tensor(self._input, np.ascontiguousarray(x))
        self._interp.invoke()
        return [self._interp.get_tensor(i) for i in self._outputs]


class OnnxModel:
    """An ``.onnx`` model on ONNX Runtime's CPU provider, same interface as
    :class:`LiteRTModel`: ``threads`` intra-op threads, one inter-op thread, and worker
    threads that sleep instead of spinning between calls (on 2 cores spinning workers
    steal the time the pre- and post-processing needs)."""

    def __init__(self, path: Path, threads: int, outputs: Sequence[Shape], spinning: bool = False) -> None:
        ort = require("onnxruntime", "edge")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name
        by_shape = {tuple(o.shape[1:]): o.name for o in self._sess.get_outputs()}
        self._outputs = [by_shape[s] for s in outputs]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self._sess.run(self._outputs, {self._input: np.ascontiguousarray(x)})


#: Model file suffix -> runtime class.
RUNTIMES: dict[str, Callable[..., Callable[[np.ndarray], list[np.ndarray]]]] = {
    ".tflite": LiteRTModel,
    ".onnx": OnnxModel,
}

DETECTOR_OUTPUTS: tuple[Shape, ...] = ((NUM_ANCHORS, 12), (NUM_ANCHORS, 1))
# landmarks, pose presence, heatmap, world landmarks
LANDMARK_OUTPUTS: tuple[Shape, ...] = ((NUM_ALL_LANDMARKS * 5,), (1,), (64, 64, NUM_ALL_LANDMARKS), (NUM_ALL_LANDMARKS * 3,))


def open_model(path: Path, threads: int, outputs: Sequence[Shape]) -> Callable[[np.ndarray], list[np.ndarray]]:
    """The runtime for ``path`` by its suffix (:data:`RUNTIMES`)."""
    try:
        runtime = RUNTIMES[Path(path).suffix]
    except KeyError:
        raise ValueError(f"no runtime for {path} (suffixes: {', '.join(RUNTIMES)})") from None
    return runtime(path, threads, outputs)


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video file, BGR uint8, as OpenCV decodes it."""
    cv2 = require("cv2", "edge", "opencv-python-headless")
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    return frames


# --- the pose stage ----------------------------------------------------------------------


class NativePose:
    """BlazePose full (33 landmarks) with MediaPipe's models on LiteRT; see the module doc.

    ``min_detection_confidence`` is the detector's score threshold and
    ``min_tracking_confidence`` the landmark model's pose-presence threshold, as in
    ``mp.solutions.pose.Pose``; ``smooth`` switches the landmark (and world landmark)
    filters, while the auxiliary landmarks that drive tracking are always filtered, as in
    MediaPipe. ``detector_calls`` counts detector runs since construction. ``variant``
    names the model files (:data:`edge.pose.models.POSE_VARIANTS`), ``threads`` the
    runtime's threads.
    """

    name = "native"

    def __init__(
        self,
        models_dir: Optional[Path] = None,
        threads: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth: bool = True,
        variant: str = "float32",
    ) -> None:
        require("cv2", "edge", "opencv-python-headless")
        self.variant = pose_variant(variant).name
        det_path, lm_path = find_pose_models(models_dir, self.variant)
        self._det = open_model(det_path, threads, DETECTOR_OUTPUTS)
        self._lm = open_model(lm_path, threads, LANDMARK_OUTPUTS)
        #: Called with ("detector" | "landmarker", input tensor) before each inference
        #: (calibration for static quantisation records the inputs through it).
        self.on_input: Optional[Callable[[str, np.ndarray], None]] = None
        self._anchors = ssd_anchors()
        if len(self._anchors) != NUM_ANCHORS:  # pragma: no cover - guards the constants above
            raise RuntimeError(f"expected {NUM_ANCHORS} anchors, made {len(self._anchors)}")
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.smooth = bool(smooth)
        self.detector_calls = 0
        self._landmark_filter = _LandmarkSmoother(LANDMARK_FILTER)
        self._world_filter = _LandmarkSmoother(WORLD_FILTER, scaled=False)
        self._aux_filter = _LandmarkSmoother(AUX_FILTER)
        self.reset()

    # -- protocol --

    def reset(self) -> None:
        """Forget the tracked region, the filters and the clock (a new video)."""
        self._roi: Optional[np.ndarray] = None
        self._last_us: Optional[int] = None
        self._origin_us: Optional[int] = None
        self._reset_filters()

    def close(self) -> None:
        """Drop the interpreters; :meth:`process` fails afterwards."""
        self._det = None
        self._lm = None

    def process(self, frame_bgr: np.ndarray, timestamp_s: Optional[float] = None) -> PoseResult:
        """Landmarks for one BGR uint8 frame (H, W, 3).

        ``timestamp_s`` (seconds, increasing) drives the One Euro filters; without it frames
        are 1/30 s (33333 us) apart, exactly as MediaPipe's Python solution stamps them.
        """
        if self._lm is None:
            raise RuntimeError("NativePose is closed")
        t_us = self._clock(timestamp_s)
        h_img, w_img = frame_bgr.shape[:2]
        size = (w_img, h_img)

        detected = False
        roi = self._roi
        self._roi = None
        if roi is None:
            detected = True
            roi = self._detect(frame_bgr)
            if roi is None:
                self._reset_filters()
                return PoseResult(None, None, detected)

        out = self._landmarks(frame_bgr, roi)
        if out is None:
            self._reset_filters()
            return PoseResult(None, None, detected)
        lms, aux, world = out

        # OBJECT_SCALE_ROI: the unscaled alignment rect of the unfiltered aux landmarks.
        aux_rect = alignment_rect(aux[0, :2], aux[1, :2], size)
        object_scale = (aux_rect[2] * _F(w_img) + aux_rect[3] * _F(h_img)) / _F(2)
        t_ns = t_us * 1000
        px = np.array([w_img, h_img, w_img], _F)
        if self.smooth:
            lms = self._landmark_filter.apply(lms, t_ns, px, object_scale)
            world = self._world_filter.apply(world, t_ns, None, object_scale)
        aux = self._aux_filter.apply(aux, t_ns, px, object_scale)
        self._roi = alignment_rect(aux[0, :2], aux[1, :2], size, ROI_SCALE)

        return PoseResult(landmarks=lms.astype(_F), world=world[:, :3].astype(_F), detected=detected)

    # -- stages --

    def _clock(self, timestamp_s: Optional[float]) -> int:
        """This frame's time in microseconds on MediaPipe's clock (first frame at 33333 us:
        the One Euro filter would pass a frame at 0 through without starting)."""
        step = DEFAULT_STEP_US if self._last_us is None else self._last_us + DEFAULT_STEP_US
        if timestamp_s is None:
            t_us = step
        else:
            given = int(round(timestamp_s * 1e6))
            if self._origin_us is None:  # only differences matter to the filters
                self._origin_us = given - step
            t_us = given - self._origin_us
        self._last_us = t_us
        return t_us

    def _reset_filters(self) -> None:
        self._landmark_filter.reset()
        self._world_filter.reset()
        self._aux_filter.reset()

    def run_detector(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The detector on the whole (letterboxed) frame: raw boxes (N, 12), raw score
        logits (N,), and the letterbox padding (left, top, right, bottom)."""
        h_img, w_img = frame_bgr.shape[:2]
        full = np.array([0.5, 0.5, 1.0, 1.0, 0.0], _F)
        rect_px, pad = roi_to_pixels(full, (w_img, h_img), DETECTOR_SIZE)
        crop = crop_rotated(frame_bgr, rect_px, DETECTOR_SIZE, border_zero=True)
        # uint8 -> [-1, 1] as cv::Mat::convertTo does it: one fused multiply-add, rounded
        # once (u * scale is exact in double, so double then float32 is the FMA's result).
        # A 1-ulp difference here moves the ROI by 1 ulp, and tracking amplifies it.
        scale = float(_F(2.0) / _F(255.0))
        tensor = (crop[None, :, :, ::-1].astype(np.float64) * scale - 1.0).astype(_F)
        if self.on_input is not None:
            self.on_input("detector", tensor)
        raw_boxes, raw_scores = self._det(tensor)
        return raw_boxes[0], raw_scores[0, :, 0], pad

    def _detect(self, frame_bgr: np.ndarray) -> Optional[np.ndarray]:
        """Run the detector on the whole frame; the ROI of the best person."""
        self.detector_calls += 1
        h_img, w_img = frame_bgr.shape[:2]
        raw_boxes, raw_scores, pad = self.run_detector(frame_bgr)
        boxes, kps, scores = decode_detections(raw_boxes, raw_scores, self._anchors, self.min_detection_confidence)
        if scores.size == 0:
            return None
        _, kps, _ = weighted_nms(boxes, kps, scores, NMS_IOU, max_detections=1)
        # DetectionLetterboxRemovalCalculator
        k = kps[0].copy()
        k[:, 0] = (k[:, 0] - pad[0]) / (_F(1) - (pad[0] + pad[2]))
        k[:, 1] = (k[:, 1] - pad[1]) / (_F(1) - (pad[1] + pad[3]))
        return alignment_rect(k[0], k[1], (w_img, h_img), ROI_SCALE)

    def _landmarks(
        self, frame_bgr: np.ndarray, roi: np.ndarray
    ) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Landmark model on the ROI: float32 (33, 4) image landmarks, (2, 4) aux, (33, 4)
        world (x, y, z, visibility), or None when pose presence is not above the threshold."""
        h_img, w_img = frame_bgr.shape[:2]
        if not np.all(np.isfinite(roi)) or not (roi[2] > 0 and roi[3] > 0):
            return None
        rect_px, pad = roi_to_pixels(roi, (w_img, h_img), LANDMARK_SIZE)
        crop = crop_rotated(frame_bgr, rect_px, LANDMARK_SIZE, border_zero=False)
        tensor = crop[None, :, :, ::-1].astype(_F) * _F(1.0 / 255.0)
        if self.on_input is not None:
            self.on_input("landmarker", tensor)
        raw, presence, heatmap, world_raw = self._lm(tensor)
        presence = float(presence.reshape(-1)[0])
        if not presence > self.min_tracking_confidence:
            return None
        raw = raw.reshape(NUM_ALL_LANDMARKS, 5).astype(_F)
        heatmap = heatmap[0]
        world_raw = world_raw.reshape(NUM_ALL_LANDMARKS, 3).astype(_F)

        size = _F(LANDMARK_SIZE)
        pts = np.stack([raw[:, 0] / size, raw[:, 1] / size, raw[:, 2] / size], axis=1)
        pts[:, :2] = refine_from_heatmap(pts[:, :2], heatmap)
        # LandmarkLetterboxRemovalCalculator (the padding is 0 or a rounding residue)
        pts[:, 0] = (pts[:, 0] - pad[0]) / (_F(1) - (pad[0] + pad[2]))
        pts[:, 1] = (pts[:, 1] - pad[1]) / (_F(1) - (pad[1] + pad[3]))
        pts[:, 2] = pts[:, 2] / (_F(1) - (pad[0] + pad[2]))
        img = project_landmarks(pts, roi)
        vis = _sigmoidf(raw[:, 3])
        all_lms = np.concatenate([img, vis[:, None]], axis=1)

        # WorldLandmarkProjectionCalculator: rotate x, y by the ROI's rotation
        c, s = _cosf(roi[4]), _sinf(roi[4])
        wx, wy = world_raw[:NUM_LANDMARKS, 0], world_raw[:NUM_LANDMARKS, 1]
        world = np.stack([c * wx - s * wy, s * wx + c * wy, world_raw[:NUM_LANDMARKS, 2], vis[:NUM_LANDMARKS]], axis=1)
        return all_lms[:NUM_LANDMARKS], all_lms[NUM_LANDMARKS:NUM_LANDMARKS + 2], world.astype(_F)
