"""Model inputs for a conversion: representative windows to calibrate, held-out ones to verify.

Inputs are made exactly as evaluation makes them (:func:`training.evaluate.clip_inputs`):
the card's feature spec, hop and evaluation camera for window models
(:func:`training.augment.clip_windows`), the paper's clip vectors
(:func:`training.paper.clip_vectors`) for the paper's models.

Where they come from, in order: ``--calibration DIR`` / ``--data DIR``, else the data
root recorded in the card when it exists on this machine. Clips the card lists as training
clips calibrate; the others (the held-out fold and the out-of-set clips) verify. Only when
no data can be found are synthetic inputs drawn (Gaussian around the card's normalisation),
for verification only, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from edge.core.schema import PoseSequence

#: Representative inputs used to calibrate full-integer / static quantisation.
MAX_CALIBRATION = 1000
#: Verification uses at most this many inputs (all held-out windows of the shared data fit).
MAX_VERIFY = 5000
#: Below this many held-out inputs, training clips are added to the verification set.
MIN_VERIFY = 50


@dataclass(frozen=True)
class InputSet:
    """Inputs to verify (and optionally to calibrate) a conversion, and where they came from."""

    verify: np.ndarray
    calibration: Optional[np.ndarray]
    source: str
    synthetic: bool = False
    #: Clips the verification inputs come from and the clip index of each input (real data only).
    seqs: tuple[PoseSequence, ...] = ()
    clip: Optional[np.ndarray] = None
    held_out_only: bool = True
    calibration_source: str = ""

    def describe(self) -> dict[str, Any]:
        d = {"source": self.source, "inputs": int(len(self.verify)), "synthetic": self.synthetic,
             "held_out_only": self.held_out_only}
        if self.seqs:
            d["clips"] = len(self.seqs)
        return d


def _load(root: Path, progress: bool) -> list[PoseSequence]:
    from training import datasets

    seqs = datasets.load_all(root, progress=progress)
    if not seqs:
        raise ValueError(f"{root}: no clips found; point it at a folder laid out like ../shared/data")
    return seqs


def _inputs(card: dict, seqs: Sequence[PoseSequence]) -> tuple[np.ndarray, np.ndarray]:
    from training.evaluate import clip_inputs

    x, clip = clip_inputs(card, list(seqs))
    return np.asarray(x, np.float32), np.asarray(clip, int)


def synthetic_inputs(card: dict, shape: Sequence[int], n: int, seed: int = 0) -> np.ndarray:
    """Gaussian inputs around the card's normalisation (standard normal without one)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + tuple(shape)).astype(np.float32)
    norm = card.get("normalisation") or {}
    mc = card.get("model_config") or {}
    mean, std = norm.get("mean") or mc.get("norm_mean"), norm.get("std") or mc.get("norm_std")
    if mean is not None and std is not None and len(mean) == shape[-1]:
        x = x * np.asarray(std, np.float32) + np.asarray(mean, np.float32)
    return x


def gather_inputs(card: dict, input_shape: Sequence[int], calibration_dir: Optional[Path] = None,
                  data_dir: Optional[Path] = None, need_calibration: bool = False, seed: int = 0,
                  progress: bool = False) -> InputSet:
    """Calibration and verification inputs for a model with ``card`` (see the module doc)."""
    rng = np.random.default_rng(seed)
    recorded = (card.get("data") or {}).get("root")
    roots = [p for p in (calibration_dir, data_dir) if p is not None]
    if not roots and recorded and Path(recorded).is_dir():
        roots = [Path(recorded)]
    if not roots:
        if need_calibration:
            raise ValueError("full-integer/static quantisation needs representative windows: pass "
                             "--calibration DIR (a folder laid out like ../shared/data)")
        x = synthetic_inputs(card, input_shape, 256, seed)
        return InputSet(x, None, "synthetic Gaussian inputs (no data folder given and the card's data root "
                        f"{recorded or '(none)'} is not here); pass --data DIR for a real check",
                        synthetic=True, held_out_only=False)
    cache: dict[Path, list[PoseSequence]] = {}

    def seqs_of(root: Path) -> list[PoseSequence]:
        if root not in cache:
            cache[root] = _load(root, progress)
        return cache[root]

    train_ids = set((card.get("split") or {}).get("train_clips") or [])
    # verification: clips not used in training (held-out fold + out-of-set), topped up if few
    vroot = data_dir or calibration_dir or roots[0]
    vseqs = seqs_of(vroot)
    held = [s for s in vseqs if s.clip_id not in train_ids]
    rest = [s for s in vseqs if s.clip_id in train_ids]
    # calibration: training clips; without any, clips that do not verify
    cpool: list[PoseSequence] = []
    croot = calibration_dir or data_dir or roots[0]
    if need_calibration:
        cseqs = seqs_of(croot)
        cpool = [s for s in cseqs if s.clip_id in train_ids]
        if not cpool:
            verifying = {s.clip_id for s in held} if croot == vroot else set()
            cpool = [s for s in cseqs if s.clip_id not in verifying]
            if not cpool and len(held) >= 2:  # one folder and no split: alternate clips
                cpool, held = held[::2], held[1::2]
            elif not cpool:
                cpool = list(held)
    held_only = True
    x, clip = _inputs(card, held) if held else (np.zeros((0,) + tuple(input_shape), np.float32), np.zeros(0, int))
    chosen = list(held)
    if len(x) < MIN_VERIFY and rest:
        x2, c2 = _inputs(card, rest)
        x, clip = np.concatenate([x, x2]), np.concatenate([clip, c2 + len(chosen)])
        chosen += rest
        held_only = False
    if len(x) > MAX_VERIFY:
        keep = np.sort(rng.choice(len(x), MAX_VERIFY, replace=False))
        x, clip = x[keep], clip[keep]
    if len(x) == 0:
        raise ValueError(f"{vroot}: no model inputs could be made from its clips")
    what = "held-out" if held_only else ("held-out and training" if held else "training")
    source = f"{len(x)} inputs from {len(chosen)} {what} clips of {vroot}"
    calib, calib_source = None, ""
    if need_calibration:
        cx, _ = _inputs(card, cpool)
        if len(cx) == 0:
            raise ValueError(f"{croot}: no calibration inputs could be made from its clips")
        if len(cx) > MAX_CALIBRATION:
            cx = cx[np.sort(rng.choice(len(cx), MAX_CALIBRATION, replace=False))]
        calib = cx
        pool_what = "training " if any(s.clip_id in train_ids for s in cpool) else ""
        calib_source = f"{len(cx)} inputs from {len(cpool)} {pool_what}clips of {croot}"
        if croot == vroot:
            shared = {s.clip_id for s in chosen} & {s.clip_id for s in cpool}
            if shared:
                source += f" ({len(shared)} of these clips also calibrated it)"
    return InputSet(x, calib, source, seqs=tuple(chosen), clip=clip, held_out_only=held_only,
                    calibration_source=calib_source)


def array_inputs(verify: np.ndarray, calibration: Optional[np.ndarray] = None,
                 source: str = "inputs given by the caller") -> InputSet:
    """An :class:`InputSet` from arrays (tests, notebooks)."""
    calib = None if calibration is None else np.asarray(calibration, np.float32)
    return InputSet(np.asarray(verify, np.float32), calib, source, held_out_only=False,
                    calibration_source="" if calib is None else f"{len(calib)} inputs given by the caller")
