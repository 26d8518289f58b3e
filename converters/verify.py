"""Parity of a converted file with its Keras model, measured in the edge backend.

The converted file is opened exactly as the device opens it (:func:`edge.classify.backends.load_backend`)
and run on the same inputs as Keras. Reported:

* ``max_abs_diff`` / ``mean_abs_diff``: of the class probabilities;
* ``agreement``: fraction of inputs whose top class is the same;
* ``embedding_max_abs_diff`` and ``embedding_rel_diff`` (max |delta| / max |embedding|);
* ``near_ties``: inputs whose two best Keras probabilities are within twice the measured
  max difference of each other, the only inputs whose top class the conversion error can flip.

:func:`check` compares them with the format's thresholds from :data:`edge.classify.formats.FORMATS`
(or the caller's) and raises :class:`~converters.ParityError` with a one-line message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import numpy as np

from converters import ParityError
from edge.classify.formats import ExportFormat


@dataclass(frozen=True)
class Parity:
    n: int
    max_abs_diff: float
    mean_abs_diff: float
    agreement: float
    embedding_max_abs_diff: Optional[float]
    embedding_rel_diff: Optional[float]
    near_ties: int
    inputs: str
    max_abs_diff_limit: float = float("nan")
    min_agreement_limit: float = float("nan")
    passed: Optional[bool] = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = float(f"{v:.6g}")
        return d

    def summary(self) -> str:
        emb = "" if self.embedding_rel_diff is None else f", embedding max |d| {self.embedding_max_abs_diff:.2g} " \
                                                          f"({self.embedding_rel_diff:.2%} of its range)"
        return (f"max |dp| {self.max_abs_diff:.3g} (limit {self.max_abs_diff_limit:g}), top-1 agreement "
                f"{self.agreement:.2%} (minimum {self.min_agreement_limit:.0%}) on {self.n} inputs{emb}")


def compare(ref_probs: np.ndarray, ref_emb: Optional[np.ndarray], probs: np.ndarray, emb: Optional[np.ndarray],
            inputs: str = "") -> Parity:
    """Parity of (probs, emb) against the reference (Keras) outputs."""
    ref_probs, probs = np.asarray(ref_probs, np.float64), np.asarray(probs, np.float64)
    if ref_probs.shape != probs.shape:
        raise ParityError(f"converted outputs have shape {probs.shape}, Keras gives {ref_probs.shape}")
    diff = np.abs(ref_probs - probs)
    max_diff = float(diff.max()) if diff.size else 0.0
    top2 = np.sort(ref_probs, axis=1)[:, -2:] if ref_probs.shape[1] > 1 else np.zeros((len(ref_probs), 2))
    ties = int(((top2[:, 1] - top2[:, 0]) <= 2 * max_diff).sum())
    agree = float((ref_probs.argmax(axis=1) == probs.argmax(axis=1)).mean()) if len(probs) else 1.0
    emb_abs = emb_rel = None
    if ref_emb is not None and emb is not None and np.size(ref_emb):
        d = np.abs(np.asarray(ref_emb, np.float64) - np.asarray(emb, np.float64))
        emb_abs = float(d.max())
        emb_rel = emb_abs / max(float(np.abs(ref_emb).max()), 1e-12)
    return Parity(len(probs), max_diff, float(diff.mean()) if diff.size else 0.0, agree, emb_abs, emb_rel, ties, inputs)


def measure(reference: Callable[[np.ndarray], tuple[np.ndarray, Optional[np.ndarray]]],
            backend: Callable[[np.ndarray], tuple[np.ndarray, Optional[np.ndarray]]], x: np.ndarray,
            inputs: str = "") -> tuple[Parity, tuple[np.ndarray, Optional[np.ndarray]], tuple[np.ndarray, Optional[np.ndarray]]]:
    """Run both on ``x``; returns the parity and both (probs, embedding) pairs."""
    ref = reference(x)
    got = backend(x)
    return compare(ref[0], ref[1], got[0], got[1], inputs), ref, got


def check(parity: Parity, fmt: ExportFormat, max_abs_diff: Optional[float] = None,
          min_agreement: Optional[float] = None, raise_on_failure: bool = True) -> Parity:
    """The parity with its limits and verdict; raises :class:`ParityError` if it fails (unless told not to)."""
    limit = fmt.max_abs_diff if max_abs_diff is None else max_abs_diff
    agree = fmt.min_agreement if min_agreement is None else min_agreement
    ok = bool(parity.max_abs_diff <= limit and parity.agreement >= agree)
    checked = Parity(**{**asdict(parity), "max_abs_diff_limit": limit, "min_agreement_limit": agree, "passed": ok})
    if not ok and raise_on_failure:
        raise ParityError(failure_message(checked, fmt) + "; the file was not written")
    return checked


def failure_message(parity: Parity, fmt: ExportFormat) -> str:
    """One line saying which limit a parity breaks."""
    limit, agree = parity.max_abs_diff_limit, parity.min_agreement_limit
    what = []
    if parity.max_abs_diff > limit:
        what.append(f"max |dp| {parity.max_abs_diff:.3g} > {limit:g}")
    if parity.agreement < agree:
        what.append(f"top-1 agreement {parity.agreement:.2%} < {agree:.0%}")
    return f"{fmt.name} disagrees with Keras on {parity.n} inputs ({'; '.join(what)})"
