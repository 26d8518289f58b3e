"""Pose stages behind one interface (:class:`~edge.pose.base.PoseEstimator`).

``native``     MediaPipe's BlazePose detector and "full" landmark models run directly on
               LiteRT, with the pre- and post-processing in numpy/OpenCV (no MediaPipe, no
               TensorFlow); the models are cached once by ``edgerec pose fetch``.
``mediapipe``  MediaPipe 0.10.x's legacy ``solutions.pose`` (the "full" model), for
               comparison and for machines where MediaPipe is already installed.

``auto`` picks ``native`` when its models are cached, else ``mediapipe`` when installed.
``variant`` (native only) picks the model files, :data:`edge.pose.models.POSE_VARIANTS`:
``float32`` (MediaPipe's own, the default), or an ONNX build (``onnx``, ``dynamic``,
``float16``, ``int8``) made once by ``python -m edge.pose.models build``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edge.pose.base import PoseEstimator, PoseResult


@dataclass(frozen=True)
class PoseStage:
    name: str
    description: str
    factory: Callable[..., PoseEstimator]
    available: Callable[[], bool]


def _native(threads: int = 1, variant: str = "float32") -> PoseEstimator:
    from edge.pose.native import NativePose

    return NativePose(threads=threads, variant=variant)


def _native_available() -> bool:
    from edge.pose.models import find_pose_models

    try:
        find_pose_models()
    except FileNotFoundError:
        return False
    return True


def _mediapipe(threads: int = 1, variant: str = "float32") -> PoseEstimator:
    from edge.pose.mediapipe_pose import MediaPipePose

    if variant != "float32":
        raise ValueError(f"the mediapipe pose stage has no variant {variant!r} (only float32)")
    return MediaPipePose()


def _mediapipe_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


#: The pose stages, in the order ``auto`` tries them.
POSE_STAGES: dict[str, PoseStage] = {
    "native": PoseStage("native", "BlazePose full on LiteRT, no MediaPipe", _native, _native_available),
    "mediapipe": PoseStage("mediapipe", "MediaPipe legacy solutions.pose (full)", _mediapipe, _mediapipe_available),
}
POSE_CHOICES = ("auto", *POSE_STAGES)


def make_pose(name: str = "auto", threads: int = 1, variant: str = "float32") -> PoseEstimator:
    """Open the named pose stage; ``auto`` takes the first available one. ``variant``
    selects the native stage's model files (:data:`edge.pose.models.POSE_VARIANTS`); with
    ``auto`` and a variant other than float32, only ``native`` is considered."""
    if name == "auto":
        if variant != "float32":
            return POSE_STAGES["native"].factory(threads=threads, variant=variant)
        for stage in POSE_STAGES.values():
            if stage.available():
                return stage.factory(threads=threads)
        raise FileNotFoundError("no pose stage is ready: run `edgerec pose fetch` once to cache the "
                                "BlazePose models (or install mediapipe==0.10.14)")
    if name not in POSE_STAGES:
        raise ValueError(f"unknown pose stage {name!r}; choose one of {', '.join(POSE_CHOICES)}")
    return POSE_STAGES[name].factory(threads=threads, variant=variant)


__all__ = ["POSE_CHOICES", "POSE_STAGES", "PoseEstimator", "PoseResult", "PoseStage", "make_pose"]
