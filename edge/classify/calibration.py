"""Calibrated confidence and the "unsure" answer, in numpy so the device can use it.

A dancer may do none of the known styles. A softmax always sums to one, so a plain
maximum-probability cut-off is not enough: networks are confidently wrong far from their
training data. Two signals are combined:

* **temperature scaling** of the probabilities (``p ** (1/T)``, renormalised), with T fitted
  on held-out windows so that the reported confidence matches the observed accuracy;
* **distance to the training data** in the classifier's embedding space: the Mahalanobis
  distance to the nearest class mean under a shared, shrunk covariance. A window further
  away than almost all held-out in-set windows is "unsure", whatever its probabilities.

The parameters travel in the model card (:meth:`Calibration.to_dict`).
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Optional

import numpy as np


def temper(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scale probabilities: softmax(log p / T)."""
    logp = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=-1, keepdims=True)


def mahalanobis(emb: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(W, M) distances of embeddings (W, D) to means (M, D) under ``precision``."""
    diff = np.asarray(emb, np.float64)[:, None, :] - np.asarray(means, np.float64)[None]
    d2 = np.einsum("wkd,de,wke->wk", diff, precision, diff)
    return np.sqrt(np.maximum(d2, 0.0))


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising held-out negative log-likelihood (grid search, 0.25..10)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(10.0), 60))
    nll = [-np.mean(np.log(np.clip(temper(probs, t)[np.arange(len(y)), y], 1e-12, 1))) for t in grid]
    return float(grid[int(np.argmin(nll))])


@dataclass(frozen=True)
class Assessment:
    """Per-window calibrated probabilities, distance and the unsure flag."""

    probs: np.ndarray
    distance: np.ndarray
    unsure: np.ndarray


@dataclass(frozen=True)
class Calibration:
    temperature: float
    class_means: np.ndarray  # (K, D)
    precision: np.ndarray    # (D, D)
    distance_threshold: float
    prob_threshold: float

    def distances(self, emb: np.ndarray) -> np.ndarray:
        """(W, K) Mahalanobis distances of embeddings (W, D) to every class mean."""
        return mahalanobis(emb, self.class_means, self.precision)

    def distance(self, emb: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each embedding (W, D) to the nearest class mean."""
        return self.distances(emb).min(axis=1)

    def assess(self, probs: np.ndarray, emb: np.ndarray, distances: Optional[np.ndarray] = None) -> Assessment:
        """Tempered probabilities, nearest distance and the unsure flag; ``distances`` (W, K),
        when the caller already has them, saves computing them again."""
        p = temper(np.asarray(probs, np.float64), self.temperature)
        d = (self.distances(emb) if distances is None else distances).min(axis=1)
        unsure = (d > self.distance_threshold) | (p.max(axis=1) < self.prob_threshold)
        return Assessment(p, d, unsure)

    def to_dict(self) -> dict:
        return {
            "method": "temperature + mahalanobis",
            "temperature": self.temperature,
            "class_means": np.round(self.class_means, 6).tolist(),
            "precision": np.round(self.precision, 8).tolist(),
            "distance_threshold": self.distance_threshold,
            "prob_threshold": self.prob_threshold,
        }

    def __post_init__(self) -> None:
        # A damaged or hand-edited card must not turn into NaN probabilities at run time.
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"calibration: the temperature must be a positive number, got {self.temperature}; "
                             "re-train the model or fix its card")
        means, precision = np.asarray(self.class_means), np.asarray(self.precision)
        if means.ndim != 2 or precision.shape != (means.shape[1], means.shape[1]):
            raise ValueError(f"calibration: class means {means.shape} and precision {precision.shape} do not fit "
                             "together; re-train the model or fix its card")
        if not (np.isfinite(means).all() and np.isfinite(precision).all()):
            raise ValueError("calibration: class means or precision are not finite; re-train the model or fix its card")
        if math.isnan(self.distance_threshold) or self.distance_threshold < 0 or \
                not (0.0 <= self.prob_threshold <= 1.0):
            raise ValueError(f"calibration: thresholds out of range (distance {self.distance_threshold}, "
                             f"probability {self.prob_threshold}); re-train the model or fix its card")

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        """The calibration recorded in a card; ``ValueError`` (one line) when it is damaged."""
        try:
            return cls(float(d["temperature"]), np.asarray(d["class_means"], np.float64),
                       np.asarray(d["precision"], np.float64), float(d["distance_threshold"]),
                       float(d["prob_threshold"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"calibration: missing or malformed field ({type(exc).__name__}: {exc}); "
                             "re-train the model or fix its card") from None


def fit_calibration(probs: np.ndarray, emb: np.ndarray, y: np.ndarray, num_classes: int,
                    fit_emb: np.ndarray, fit_y: np.ndarray, accept_quantile: float = 0.95,
                    prob_threshold: float = 0.5, shrinkage: float = 0.1) -> Calibration:
    """Fit the class means and covariance on ``fit_*`` (training windows) and the temperature
    and distance threshold on the held-out ``probs``/``emb``/``y`` windows.

    The threshold accepts ``accept_quantile`` of held-out in-set windows.
    """
    dim = fit_emb.shape[1]
    means = np.zeros((num_classes, dim))
    centred = []
    for k in range(num_classes):
        sel = fit_emb[fit_y == k]
        if len(sel):
            means[k] = sel.mean(axis=0)
            centred.append(sel - means[k])
    c = np.concatenate(centred)
    cov = c.T @ c / max(1, len(c) - 1)
    cov = (1 - shrinkage) * cov + shrinkage * np.eye(dim) * np.trace(cov) / dim
    precision = np.linalg.inv(cov)
    temperature = fit_temperature(probs, y)
    partial = Calibration(temperature, means, precision, np.inf, prob_threshold)
    d = partial.distance(emb)
    threshold = float(np.quantile(d, accept_quantile))
    return Calibration(temperature, means, precision, threshold, prob_threshold)
