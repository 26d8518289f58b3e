"""The model card: a JSON document that travels beside (or inside) every model file.

It holds everything needed to use a model without the code that trained it: labels, the
input spec and feature version, normalisation, calibration, the data fingerprint and
split, and the metrics measured. For Keras files it is a sidecar ``<model>.card.json``
written atomically; converted formats (TFLite, ONNX) embed the same dictionary.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from edge.core import jsonio
from edge.core.files import atomic_write_text  # noqa: F401  (re-exported for training and converters)

CARD_FORMAT = "edgerec-model-card"
CARD_VERSION = 1


def card_path(model_path: str | Path) -> Path:
    """``model.keras`` -> ``model.card.json``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".card.json")


def write_card(model_path: str | Path, card: dict[str, Any]) -> Path:
    out = card_path(model_path)
    body = {"format": CARD_FORMAT, "card_version": CARD_VERSION, **card}
    atomic_write_text(out, jsonio.dumps(body, indent=1, sort_keys=False))
    return out


def read_card(model_path: str | Path) -> dict[str, Any]:
    path = card_path(model_path)
    if not path.exists():
        raise ValueError(f"{model_path}: no model card {path.name} beside it; re-export the model with edgerec")
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: model card is not valid JSON ({exc}); re-export the model") from exc
    if card.get("format") != CARD_FORMAT:
        raise ValueError(f"{path}: not an edgerec model card")
    return card


def data_fingerprint(paths: list[Path]) -> str:
    """sha256 over the contents of the files a model was trained on (sorted by name)."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda q: q.name + str(q)):
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                h.update(f.name.encode())
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
