"""Classification metrics in numpy: accuracy, macro and weighted F1, recall, confusion."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    m = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m


def report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Metrics over the classes present in ``y_true`` (macro-F1 averages those only)."""
    k = len(labels)
    m = confusion(y_true, y_pred, k)
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    tp = np.diag(m).astype(float)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    present = support > 0
    n = int(support.sum())
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "weighted_f1": float((f1 * support).sum() / n) if n else float("nan"),
        "per_class": {
            labels[i]: {"recall": float(recall[i]), "precision": float(precision[i]), "f1": float(f1[i]),
                        "support": int(support[i])}
            for i in range(k)
        },
        "confusion": m.tolist(),
        "labels": list(labels),
    }


def bootstrap_interval(values_true: np.ndarray, values_pred: np.ndarray, groups: np.ndarray,
                       labels: Sequence[str], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% interval of macro-F1 by resampling whole groups (clips) with replacement."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    scores = []
    for _ in range(n):
        pick = rng.choice(uniq, len(uniq))
        idx = np.concatenate([np.flatnonzero(groups == g) for g in pick])
        scores.append(report(values_true[idx], values_pred[idx], labels)["macro_f1"])
    lo, hi = np.nanpercentile(scores, [2.5, 97.5])
    return float(lo), float(hi)
