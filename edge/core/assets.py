"""Files shipped inside the package: the default model and the default music catalogue.

The default model is edgerec's ``edge`` classifier trained on every in-set clip of the
shared data (Music-to-Dance, CMU salsa, AIST++), converted to float16 TFLite with its card
embedded. ``scripts/make_default_model.sh`` reproduces it from ``../shared/data``.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_MODEL_NAME = "default_edge_float16.tflite"
#: The catalogue of the ``immich-memories-music`` tracks (the songs stay in that package).
DEFAULT_CATALOG_NAME = "default_catalog.json"


def default_model_path() -> Path:
    """The shipped default model, or a one-line error saying how to make it."""
    path = ASSETS / DEFAULT_MODEL_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the default model is missing from this install; reinstall edgerec or "
            "rebuild it with scripts/make_default_model.sh"
        )
    return path


def default_catalog_path() -> Path:
    """The catalogue shipped in the package (the ``immich-memories-music`` tracks)."""
    return ASSETS / DEFAULT_CATALOG_NAME
