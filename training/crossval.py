"""Grouped cross-validation of every model, plus the experiments that keep us honest.

For each fold (whole groups held out: a clip, both partners of a CMU take, or a family of
waltz clips that share frames) the baseline and the ``edge`` model are trained on the same
augmented windows, and the paper's networks on the same clips' 130-value vectors. Test
predictions are pooled over folds; intervals come from resampling test clips.

Experiments, on the ``edge`` model of every fold:

* **frame rate / band limit**: the test clips are decimated to 5.9, 10 and 15 fps (what a
  slow camera or waltz mocap delivers) and scored again. A model that had learned "no
  motion above 3 Hz means waltz" would start calling everything waltz at 5.9 fps.
* **spectral cue**: how well the 2-2.5 Hz band of joint speed alone separates waltz windows
  from the rest after our chain (AUC) — the cue the model could lean on, measured.
* **timing**: a model trained with every music2dance clip read as 25 fps (the upstream
  README's claim) is scored on correctly timed waltz. Cross-validation within the wrong
  timing looks fine; the correctly timed clips expose it.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import edge
from edge.core import jsonio
from edge.core.schema import PoseSequence, uniform_times
from training.augment import EVAL_CAMERA
from training.card import atomic_write_text
from training.metrics import bootstrap_interval, report
from training.train import (
    PAPER_ARCHS, TrainConfig, draw_windows, fit_baseline_model, fit_paper_model, fit_window_model, load_dataset,
)
from training.windows import make_folds

DECIMATE_TO = (5.9, 10.0, 15.0)


def decimate(seq: PoseSequence, fps: float) -> PoseSequence:
    """The clip as a camera at ``fps`` would have delivered it (nearest raw frames)."""
    if fps >= seq.fps:
        return seq
    grid = np.arange(seq.times[0], seq.times[-1], 1.0 / fps)
    idx = np.unique(np.clip(np.searchsorted(seq.times, grid), 0, len(seq.times) - 1))
    return replace(seq, points=seq.points[idx], mask=seq.mask[idx], times=seq.times[idx], fps=fps)


def retime(seq: PoseSequence, fps: float) -> PoseSequence:
    """The clip with its frames re-stamped at a constant ``fps`` (a timing error, on purpose)."""
    return replace(seq, times=uniform_times(seq.num_frames, fps), fps=fps)


def _window_card(labels: Sequence[str], cfg: TrainConfig, calibration: Any = None) -> dict:
    return {"labels": list(labels), "preprocessing": "windows", "feature_spec": cfg.spec.to_dict(),
            "hop_seconds": cfg.hop_seconds, "eval_camera": asdict(EVAL_CAMERA),
            "calibration": calibration.to_dict() if calibration is not None else None}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve (probability a positive scores above a negative)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort() + 1.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


class _Pool:
    """Pooled test predictions of one model over all folds."""

    def __init__(self) -> None:
        self.win_true: list[int] = []
        self.win_pred: list[int] = []
        self.win_group: list[str] = []
        self.clip_true: list[int] = []
        self.clip_pred: list[int] = []
        self.clip_group: list[str] = []
        self.fold_f1: list[float] = []

    def add(self, result: dict, seqs: Sequence[PoseSequence], labels: Sequence[str]) -> None:
        index = {n: i for i, n in enumerate(labels)}
        pr = result["predictions"]
        for c, p in zip(pr["clip"], pr["pred"]):
            y = index.get(seqs[c].label, -1)
            if y >= 0:
                self.win_true.append(y)
                self.win_pred.append(p)
                self.win_group.append(seqs[c].group)
        for s, entry in zip(seqs, result["per_clip"]):
            if s.label in index and "majority" in entry:
                self.clip_true.append(index[s.label])
                self.clip_pred.append(index[entry["mean_prob"]])
                self.clip_group.append(s.group)
        if result.get("clip_mean"):
            self.fold_f1.append(result["clip_mean"]["macro_f1"])

    def summary(self, labels: Sequence[str]) -> dict:
        wt, wp = np.array(self.win_true), np.array(self.win_pred)
        ct, cp = np.array(self.clip_true), np.array(self.clip_pred)
        out: dict[str, Any] = {"clip": report(ct, cp, labels),
                               "clip_ci95": bootstrap_interval(ct, cp, np.array(self.clip_group), labels),
                               "fold_clip_macro_f1": self.fold_f1}
        if len(wt):
            out["window"] = report(wt, wp, labels)
            out["window_ci95"] = bootstrap_interval(wt, wp, np.array(self.win_group), labels, n=300)
        return out


def run_crossval(data_dir: str | Path, out_dir: str | Path, archs: Sequence[str], k: int = 5, seed: int = 0,
                 quick: bool = False) -> Path:
    """Run the cross-validation and experiments; write report.json and report.md to ``out_dir``."""
    from edge.core.optional import require
    from training.baseline import window_statistics
    from training.evaluate import baseline_loaded, clip_inputs, evaluate_loaded, keras_loaded
    from training.paper import clip_vectors

    tqdm = require("tqdm", "train").tqdm
    started = time.time()
    cfg = TrainConfig(seed=seed, folds=k)
    if quick:
        cfg = replace(cfg, per_class=60, val_per_class=20, epochs=3, paper_epochs=3)
    ds = load_dataset(data_dir, progress=True)
    labels = list(ds.labels)
    seqs = list(ds.inset)
    folds = make_folds(seqs, k, seed)
    pools = {a: _Pool() for a in archs}
    paper_vecs = clip_vectors(seqs, progress=True) if any(a in PAPER_ARCHS for a in archs) else None
    experiments: dict[str, Any] = {"decimated": {str(f): _Pool() for f in DECIMATE_TO}, "ood": []}
    spectral: dict[str, list[float]] = {"waltz": [], "other": []}
    wcard = _window_card(labels, cfg)
    for fold in tqdm(range(k), desc="folds", unit="fold"):
        train_seqs, test_seqs = folds.split(seqs, fold)
        test_idx = [i for i, s in enumerate(seqs) if folds.assignment[s.group] == fold]
        fold_cfg = replace(cfg, seed=seed + fold)
        need_windows = "edge" in archs or "baseline" in archs
        windows = draw_windows(train_seqs, labels, fold_cfg, progress=True) if need_windows else None
        test_inputs = clip_inputs(wcard, test_seqs) if need_windows else None
        if "baseline" in archs:
            base = fit_baseline_model(train_seqs, labels, fold_cfg, windows=windows[0])
            res = evaluate_loaded(baseline_loaded(base, wcard), test_seqs, test_inputs)
            pools["baseline"].add(res, test_seqs, labels)
        if "edge" in archs:
            fitted = fit_window_model(train_seqs, labels, replace(fold_cfg, arch="edge"), windows=windows)
            card = _window_card(labels, cfg, fitted.calibration)
            loaded = keras_loaded(fitted.model, card)
            res = evaluate_loaded(loaded, test_seqs, test_inputs)
            pools["edge"].add(res, test_seqs, labels)
            for fps in DECIMATE_TO:
                dec = [decimate(s, fps) for s in test_seqs]
                experiments["decimated"][str(fps)].add(evaluate_loaded(loaded, dec), dec, labels)
            ood = evaluate_loaded(loaded, list(ds.outset))
            experiments["ood"].append({"fold": fold, "unsure": ood.get("unsure"),
                                       "clips": [{k2: c.get(k2) for k2 in ("clip", "majority", "mean_confidence",
                                                                          "unsure_fraction")}
                                                 for c in ood["per_clip"]]})
            inset_unsure = res.get("unsure", {})
            experiments.setdefault("inset_unsure", []).append(inset_unsure)
            stats = window_statistics(test_inputs[0], cfg.spec)
            from training.baseline import statistic_names

            names = statistic_names(cfg.spec)
            band = [i for i, n in enumerate(names) if "2-2.5" in n.replace(".0", "") or "2.0-2.5" in n]
            if band:
                score = stats[:, band].mean(axis=1)
                is_w = np.array([test_seqs[c].label == "waltz" for c in test_inputs[1]])
                spectral["waltz"].extend(score[is_w].tolist())
                spectral["other"].extend(score[~is_w].tolist())
        for arch in archs:
            if arch in PAPER_ARCHS:
                tr_idx = [i for i in range(len(seqs)) if i not in set(test_idx)]
                fitted = fit_paper_model(train_seqs, labels, replace(fold_cfg, arch=arch),
                                         vectors=paper_vecs[tr_idx])
                pcard = {"labels": labels, "preprocessing": "paper-clip"}
                res = evaluate_loaded(keras_loaded(fitted.model, pcard), test_seqs,
                                      (paper_vecs[test_idx], np.arange(len(test_idx))))
                pools[arch].add(res, test_seqs, labels)
    results: dict[str, Any] = {a: pools[a].summary(labels) for a in archs}
    exp: dict[str, Any] = {}
    if "edge" in archs:
        exp["decimated"] = {f: p.summary(labels) for f, p in experiments["decimated"].items()}
        waltz = labels.index("waltz") if "waltz" in labels else -1
        exp["decimated_waltz_share"] = {
            f: float(np.mean([(p == waltz) for t, p in zip(pool.clip_true, pool.clip_pred) if t != waltz]))
            for f, pool in experiments["decimated"].items()
        }
        exp["original_waltz_share"] = float(np.mean([(p == waltz) for t, p in zip(pools["edge"].clip_true,
                                                                                 pools["edge"].clip_pred) if t != waltz]))
        exp["spectral_auc_2_2.5hz_waltz_vs_rest"] = _auc(np.array(spectral["waltz"]), np.array(spectral["other"]))
        exp["ood"] = experiments["ood"]
        exp["inset_unsure"] = experiments.get("inset_unsure", [])
        exp["timing"] = _timing_experiment(ds, labels, folds, cfg)
    report_json = {
        "edgerec_version": edge.__version__,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "python": platform.python_version()},
        "data": str(data_dir), "labels": labels, "k": k, "seed": seed, "quick": quick,
        "clips": {lab: sum(s.label == lab for s in seqs) for lab in labels},
        "groups": {lab: len({s.group for s in seqs if s.label == lab}) for lab in labels},
        "out_of_set": [s.clip_id for s in ds.outset],
        "train_config": cfg.to_dict(),
        "results": results,
        "experiments": exp,
        "seconds": round(time.time() - started, 1),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "report.json", jsonio.dumps(report_json, indent=1))
    from training.report import write_markdown

    return write_markdown(report_json, out_dir)


def _timing_experiment(ds: Any, labels: list[str], folds: Any, cfg: TrainConfig) -> dict:
    """Train on fold 0 with every music2dance clip read as 25 fps; score correct and wrong timing."""
    from training.evaluate import evaluate_loaded, keras_loaded

    wrong = [retime(s, 25.0) if s.source == "music2dance" else s for s in ds.inset]
    train_w, test_w = folds.split(wrong, 0)
    _, test_right = folds.split(list(ds.inset), 0)
    fitted = fit_window_model(train_w, labels, replace(cfg, arch="edge", seed=cfg.seed + 101))
    loaded = keras_loaded(fitted.model, _window_card(labels, cfg, fitted.calibration))
    on_wrong = evaluate_loaded(loaded, test_w)
    on_right = evaluate_loaded(loaded, test_right)

    def waltz_recall(res: dict) -> float:
        return res["clip_mean"]["per_class"]["waltz"]["recall"] if res.get("clip_mean") else float("nan")

    return {
        "fold": 0,
        "mis_timed_model_on_mis_timed_test": {"clip_macro_f1": on_wrong["clip_mean"]["macro_f1"],
                                              "waltz_recall": waltz_recall(on_wrong)},
        "mis_timed_model_on_correctly_timed_test": {"clip_macro_f1": on_right["clip_mean"]["macro_f1"],
                                                    "waltz_recall": waltz_recall(on_right)},
    }
