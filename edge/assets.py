"""Files shipped inside the package: the default model.

The default model is edgerec's ``edge`` classifier trained on every in-set clip of the
shared data (Music-to-Dance, CMU salsa, AIST++), converted to float16 TFLite with its card
embedded. ``scripts/make_default_model.sh`` reproduces it from ``../shared/data``.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_MODEL_NAME = "default_edge_float16.tflite"


def default_model_path() -> Path:
    """The shipped default model, or a one-line error saying how to make it."""
    path = ASSETS / DEFAULT_MODEL_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the default model is missing from this install; reinstall edgerec or "
            "rebuild it with scripts/make_default_model.sh"
        )
    return path
