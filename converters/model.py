"""The Keras side of a conversion: the source model, and the two-output model to export.

Exported files have two outputs, ``embedding`` (the penultimate layer, for recommendations
and the "unsure" distance) and ``probs``, named so in the file (TFLite signature outputs,
ONNX graph outputs) and recorded in that order in the card.

The export model is rebuilt from the card's ``model_config`` with the batch and unrolling
the target needs, and the trained weights are copied in: recurrent layers only convert to
TFLite builtins with a fixed batch of 1, and full-integer TFLite needs them unrolled.
(``TFLiteConverter.from_concrete_functions`` would avoid the rebuild but silently drops the
weights of Keras 3 models, so the converters always go through ``from_keras_model``.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from converters import ConversionError
from edge.core.optional import require

#: Output names and order of every exported file.
OUTPUTS = ("embedding", "probs")
RECURRENT_LAYERS = ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "RNN")


@dataclass(frozen=True)
class Source:
    """A trained Keras model with its card and the hash of its file."""

    path: Path
    card: dict
    model: Any
    sha256: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.model.inputs[0].shape[1:])

    @property
    def recurrent(self) -> bool:
        return is_recurrent(self.model)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keras (probs, embedding), float64, the reference every converted file is checked against."""
        from training.train import predict

        return predict(self.model, np.asarray(x, np.float32))


def is_recurrent(model: Any) -> bool:
    return any(type(layer).__name__ in RECURRENT_LAYERS for layer in model.layers)


def load_source(path: str | Path) -> Source:
    """Load a ``.keras`` model and its sidecar card; one-line errors for anything else."""
    from training.card import file_sha256, read_card

    path = Path(path)
    if not path.exists():
        raise ConversionError(f"{path}: model file not found")
    if path.suffix != ".keras":
        raise ConversionError(f"{path}: convert a trained Keras model (.keras); "
                              f"{path.suffix or 'this file'} cannot be converted")
    card = read_card(path)
    if card.get("arch") == "baseline" or "model_config" not in card:
        raise ConversionError(f"{path}: its card has no model_config; only edgerec's Keras models convert")
    keras = require("keras", "train")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - keras raises many kinds for a bad file
        raise ConversionError(f"{path}: cannot load this Keras model ({str(exc).splitlines()[0]})") from exc
    return Source(path, card, model, file_sha256(path))


@dataclass(frozen=True)
class Export:
    """The Keras model to convert and the input transform the runtime applies before it."""

    model: Any
    #: ``{"kind": "standardise", "mean": [...], "std": [...]}`` when the model's own
    #: standardisation was moved to the runtime boundary (see :func:`export_model`), else None.
    input_transform: Optional[dict] = None


def export_model(source: Source, batch_size: Optional[int], unroll: bool = False,
                 standardise_outside: bool = False) -> Export:
    """The model rebuilt with ``batch_size``/``unroll``, trained weights copied, two named outputs.

    ``standardise_outside``: leave out the ``edge`` model's baked-in standardisation layer and
    record it as an input transform the backend applies in float32. Formats that quantise
    activations statically need this: with the layer inside, the raw input (101 channels of
    very different ranges: positions, velocities, angles, visibility) shares one int8 scale
    and the small channels are lost (measured on a trained edge model: max |dp| 0.67 and
    98.7% top-1 agreement with it inside, 0.10 and 99.3% with it outside).
    """
    keras = require("keras", "train")
    from training.models import EMBEDDING_LAYER, ModelConfig, build_model

    config = replace(ModelConfig.from_dict(source.card["model_config"]), batch_size=batch_size, unroll=unroll)
    transform = standardise_transform(source.card) if standardise_outside else None
    if transform is not None:
        config = replace(config, norm_mean=None, norm_std=None)
    rebuilt = build_model(config)
    try:
        for layer in rebuilt.layers:
            if layer.weights:
                layer.set_weights(source.model.get_layer(layer.name).get_weights())
    except ValueError as exc:
        raise ConversionError(f"{source.path}: the card's model_config does not rebuild this model "
                              f"({str(exc).splitlines()[0]})") from exc
    outputs = {"embedding": rebuilt.get_layer(EMBEDDING_LAYER).output, "probs": rebuilt.output}
    return Export(keras.Model(rebuilt.inputs, outputs, name=f"{config.arch}_export"), transform)


def standardise_transform(card: dict) -> Optional[dict]:
    """The input transform replacing a model's baked-in standardisation (None if it has none)."""
    mc = card.get("model_config") or {}
    if mc.get("norm_mean") is None or mc.get("norm_std") is None:
        return None
    # the Normalization layer's arithmetic: (x - mean) / sqrt(max(std, 1e-6) ** 2)
    return {"kind": "standardise", "mean": [float(m) for m in mc["norm_mean"]],
            "std": [max(float(v), 1e-6) for v in mc["norm_std"]],
            "note": "the runtime computes (x - mean) / std in float32 before the model"}


def apply_transform(x: np.ndarray, transform: Optional[dict]) -> np.ndarray:
    """What the backend does with an export's input transform (used for calibration inputs)."""
    if not transform:
        return np.asarray(x, np.float32)
    mean = np.asarray(transform["mean"], np.float32)
    std = np.asarray(transform["std"], np.float32)
    return ((np.asarray(x, np.float32) - mean) / std).astype(np.float32)
