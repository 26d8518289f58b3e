"""Tiny seeded models with cards, for the converter and backend tests (and quick experiments).

:func:`tiny_model` builds an ``edge`` or paper-family model with
:func:`training.models.build_model`, fits it for a few epochs on separable synthetic data
(so its top class is decisive, as a trained model's is, and argmax agreement means
something), and saves it with a minimal card through :func:`training.card.write_card`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from edge.classify.calibration import fit_calibration
from edge.features.motion import FeatureSpec

EDGE_SHAPE = (50, 101)
PAPER_SHAPE = (22, 1)


@dataclass(frozen=True)
class Tiny:
    """A saved tiny model and the synthetic data it was fitted on."""

    path: Path
    card: dict
    train_x: np.ndarray
    test_x: np.ndarray
    labels: tuple[str, ...]


def synthetic(arch: str, n: int, num_classes: int, seed: int, shape: Optional[tuple[int, ...]] = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): class k shifts its own band of channels (edge) or has its own frequency (paper)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    if arch == "edge":
        frames, channels = shape or EDGE_SHAPE
        x = rng.normal(0.0, 1.0, (n, frames, channels)).astype(np.float32)
        band = channels // num_classes
        for k in range(num_classes):
            x[y == k, :, k * band:(k + 1) * band] += 1.5
        x = x * 2.0 + 0.5  # a scale and offset the baked-in standardisation removes
    else:
        steps = (shape or PAPER_SHAPE)[0]
        t = np.arange(steps)[None, :]
        freq = (y[:, None] + 1) * np.pi / steps
        x = (np.sin(freq * t + rng.uniform(0, 2 * np.pi, (n, 1))) + rng.normal(0, 0.3, (n, steps)))[..., None]
    return x.astype(np.float32), y


def tiny_model(folder: Path, arch: str = "edge", num_classes: int = 3, seed: int = 0, epochs: int = 8,
               width: int = 8, name: Optional[str] = None, labels: Optional[tuple[str, ...]] = None) -> Tiny:
    """Build, briefly fit and save a tiny model with a card; see the module doc."""
    from training.card import write_card
    from training.models import ModelConfig, build_model
    from training.train import predict, save_keras

    labels = tuple(labels) if labels else tuple(f"style{k}" for k in range(num_classes))
    num_classes = len(labels)
    shape = EDGE_SHAPE if arch == "edge" else PAPER_SHAPE
    x, y = synthetic(arch, 192, num_classes, seed, shape)
    test_x, _ = synthetic(arch, 256, num_classes, seed + 1, shape)
    if arch == "edge":
        flat = x.reshape(-1, shape[-1])
        config = ModelConfig("edge", num_classes, shape, optimizer="adam", learning_rate=3e-3, seed=seed,
                             width=width, norm_mean=flat.mean(0).tolist(), norm_std=flat.std(0).tolist())
    else:
        config = ModelConfig(arch, num_classes, shape, seed=seed, learning_rate=1e-3)
    model = build_model(config)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    path = Path(folder) / f"{name or arch.replace('-', '_')}.keras"
    save_keras(model, path)
    probs, emb = predict(model, x)
    card: dict = {
        "arch": arch,
        "labels": list(labels),
        "model_config": config.to_dict(),
        "input": {"shape": [1, *shape], "dtype": "float32"},
        "split": {"train_clips": [], "test_clips": []},
    }
    if arch == "edge":
        spec = FeatureSpec()
        card.update(preprocessing="windows", feature_spec=spec.to_dict(), hop_seconds=1.0,
                    eval_camera={"yaw": 0.0, "pitch": 8.0, "distance": 4.5, "focal": 1000.0,
                                 "image_size": [1280, 720], "follow": False},
                    normalisation={"inside_model": True, "layer": "standardise",
                                   "mean": list(config.norm_mean), "std": list(config.norm_std)},
                    calibration=fit_calibration(probs, emb, y, num_classes, emb, y).to_dict())
    else:
        card.update(preprocessing="paper-clip")
    write_card(path, card)
    from training.card import read_card

    return Tiny(path, read_card(path), x, test_x, labels)


__all__ = ["Tiny", "tiny_model", "synthetic"]
