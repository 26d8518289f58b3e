"""Training: from a data folder to a model file and its card.

Three kinds of model share one entry point (:func:`train`), chosen by ``arch``:

* ``edge`` (and any window model): augmented windows of the per-frame representation,
  Adam, early stopping on a validation set of differently-augmented windows, then
  calibration (temperature + embedding distance) for the "unsure" answer.
* ``paper``, ``paper-lstm-bigru``, ``paper-lstm-gru``: the paper's 130-value clip vectors,
  RMSprop, 200 epochs, exactly as described.
* ``baseline``: logistic regression on window statistics (:mod:`training.baseline`).

Evaluation data is never seen in training: a grouped fold (``test_fold``) is held out by
default and its metrics are written into the card. Out-of-set clips used for outlier
exposure are training data too, and are left out of the card's held-out metrics.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

import edge
from edge.classify.calibration import Calibration, fit_calibration
from edge.features.motion import FeatureSpec
from edge.core.schema import PoseSequence
from training import datasets
from training.augment import EVAL_CAMERA, AugmentConfig
from training.windows import (
    Folds, WindowSet, group_counts, make_folds, split_labels,
    training_windows,
)

PAPER_ARCHS = ("paper", "paper-lstm-bigru", "paper-lstm-gru")
WINDOW_ARCHS = ("edge",)
ALL_ARCHS = WINDOW_ARCHS + PAPER_ARCHS + ("baseline",)
#: Bounds of a real-video threshold scale: one odd dancer must not make a model useless.
THRESHOLD_SCALE_RANGE = (0.5, 3.0)
DEFAULT_SOURCES = ("music2dance", "cmu", "aistpp", "openpose", "realvideo", "mediapipe")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (recorded in the card)."""

    arch: str = "edge"
    seed: int = 0
    epochs: int = 60
    batch_size: int = 64
    per_class: int = 800
    val_per_class: int = 200
    patience: int = 8
    learning_rate: float = 1e-3
    width: int = 64
    dropout: float = 0.3
    hop_seconds: float = 1.0
    folds: int = 5
    test_fold: Optional[int] = 0
    min_groups: int = 2
    paper_epochs: int = 200
    paper_batch_size: int = 8
    #: Share of a class's windows drawn from its real-camera groups, where it has both kinds.
    real_share: Optional[float] = 0.5
    #: Outlier exposure: windows of real dances outside the label set, as a share of the
    #: in-set training windows, trained towards uniform probabilities (Hendrycks et al.,
    #: ICLR 2019), so that "none of these" is learned from real camera footage too.
    outlier_share: float = 0.2
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d


def default_config() -> TrainConfig:
    """The configuration the shipped model and the reports are trained with."""
    return TrainConfig()


@dataclass(frozen=True)
class Dataset:
    """The loaded clips of a data folder, split into classes and out-of-set examples."""

    root: Path
    labels: tuple[str, ...]
    inset: tuple[PoseSequence, ...]
    outset: tuple[PoseSequence, ...]


def load_dataset(root: str | Path, sources: Sequence[str] = DEFAULT_SOURCES, min_groups: int = 2,
                 progress: bool = False) -> Dataset:
    """Load, merge leaking groups, and split labels into classes and out-of-set examples."""
    root = Path(root)
    seqs = datasets.load_all(root, tuple(sources), progress=progress)
    if not seqs:
        raise ValueError(f"{root}: no clips found; point --data at a folder laid out like ../shared/data")
    labels, inset, outset = split_labels(seqs, min_groups)
    if len(labels) < 2:
        raise ValueError(
            f"{root}: need at least 2 labels with {min_groups}+ independent clips, found {group_counts(seqs)}"
        )
    return Dataset(root, tuple(labels), tuple(inset), tuple(outset))


# ------------------------------------------------------------------ keras helpers


def _keras():
    from edge.core.optional import require

    return require("keras", "train")


def two_head(model: Any) -> Any:
    """A view of ``model`` returning (embedding, probs) for every input (see
    :func:`training.models.two_head`, where evaluation imports it from)."""
    from training.models import two_head as _two_head

    return _two_head(model)


def predict(model: Any, x: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probs, embedding) for a batch of inputs."""
    if len(x) == 0:
        return np.zeros((0, model.output.shape[-1])), np.zeros((0, 1))
    emb, probs = two_head(model).predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(probs, np.float64), np.asarray(emb, np.float64)


@dataclass(frozen=True)
class Fitted:
    """A trained model with what is needed to use and describe it."""

    model: Any
    labels: tuple[str, ...]
    config: TrainConfig
    model_config: dict
    calibration: Optional[Calibration]
    history: dict
    norm_mean: Optional[np.ndarray] = None
    norm_std: Optional[np.ndarray] = None


def _progress_callback(total: int, desc: str):
    keras = _keras()
    from edge.core.optional import require

    tqdm = require("tqdm", "train").tqdm

    class Bar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=False)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k in ("loss", "val_loss", "val_accuracy")})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return Bar()


def draw_windows(train_seqs: Sequence[PoseSequence], labels: Sequence[str], cfg: TrainConfig,
                 progress: bool = False) -> tuple[WindowSet, WindowSet]:
    """Augmented training windows and a validation set drawn with other augmentations.

    The validation windows come from the training clips (under other cameras, rates and
    dropouts): the smallest classes have too few independent clips to hold one out, and the
    test fold must stay untouched. They drive early stopping and calibration only.
    """
    tr = training_windows(train_seqs, labels, cfg.spec, cfg.per_class, cfg.seed, cfg.augment, progress=progress,
                          real_share=cfg.real_share)
    va = training_windows(train_seqs, labels, cfg.spec, cfg.val_per_class, cfg.seed + 7919, cfg.augment,
                          progress=progress, real_share=cfg.real_share)
    return tr, va


def outlier_windows(outliers: Sequence[PoseSequence], cfg: TrainConfig, count: int, seed: int,
                    progress: bool = False) -> np.ndarray:
    """``count`` augmented windows of out-of-set clips, balanced over their styles and groups."""
    if not outliers or count <= 0:
        return np.zeros((0, cfg.spec.window_frames, cfg.spec.num_channels), np.float32)
    styles = sorted({s.label for s in outliers})
    ws = training_windows(outliers, styles, cfg.spec, max(1, count // len(styles)), seed, cfg.augment,
                          progress=progress)
    return ws.x


def _targets(y: np.ndarray, num_classes: int, n_outliers: int) -> np.ndarray:
    """One-hot rows for the labelled windows, then uniform rows for the outlier windows."""
    t = np.zeros((len(y) + n_outliers, num_classes), np.float32)
    t[np.arange(len(y)), y] = 1.0
    t[len(y):] = 1.0 / num_classes
    return t


def fit_window_model(train_seqs: Sequence[PoseSequence], labels: Sequence[str], cfg: TrainConfig,
                     progress: bool = False, windows: Optional[tuple[WindowSet, WindowSet]] = None,
                     outliers: Sequence[PoseSequence] = ()) -> Fitted:
    """Train a window classifier (``edge``) on augmented windows of ``train_seqs``.

    ``outliers`` (real clips of styles outside ``labels``) add outlier-exposure windows
    trained towards uniform probabilities; calibration uses the labelled windows only.
    """
    from training.models import ModelConfig, build_model

    keras = _keras()
    spec = cfg.spec
    tr, va = windows or draw_windows(train_seqs, labels, cfg, progress)
    ox = outlier_windows(outliers, cfg, int(round(cfg.outlier_share * len(tr))), cfg.seed + 31, progress)
    ovx = outlier_windows(outliers, cfg, int(round(cfg.outlier_share * len(va))), cfg.seed + 7937, progress)
    flat = tr.x.reshape(-1, tr.x.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std = np.where(std < 1e-6, 1.0, std)
    mcfg = ModelConfig(arch=cfg.arch, num_classes=len(labels), input_shape=(spec.window_frames, spec.num_channels),
                       dropout=cfg.dropout, learning_rate=cfg.learning_rate, seed=cfg.seed, optimizer="adam",
                       width=cfg.width, norm_mean=tuple(mean.tolist()), norm_std=tuple(std.tolist()))
    model = build_model(mcfg)
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True)]
    if progress:
        callbacks.append(_progress_callback(cfg.epochs, f"training {cfg.arch}"))
    if len(ox):
        # soft targets: the same cross-entropy, with uniform rows for the outlier windows
        model.compile(optimizer=model.optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        x_fit, y_fit = np.concatenate([tr.x, ox]), _targets(tr.y, len(labels), len(ox))
        val = (np.concatenate([va.x, ovx]), _targets(va.y, len(labels), len(ovx)))
    else:
        x_fit, y_fit, val = tr.x, tr.y, (va.x, va.y)
    hist = model.fit(x_fit, y_fit, validation_data=val, epochs=cfg.epochs, batch_size=cfg.batch_size,
                     shuffle=True, verbose=0, callbacks=callbacks)
    tr_probs, tr_emb = predict(model, tr.x)
    va_probs, va_emb = predict(model, va.x)
    calibration = fit_calibration(va_probs, va_emb, va.y, len(labels), tr_emb, tr.y)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history["epochs_run"] = len(history.get("loss", []))
    history["train_windows"] = len(tr)
    history["val_windows"] = len(va)
    history["outlier_windows"] = int(len(ox))
    history["outlier_styles"] = sorted({s.label for s in outliers})
    return Fitted(model, tuple(labels), cfg, mcfg.to_dict(), calibration, history, mean, std)


def fit_paper_model(train_seqs: Sequence[PoseSequence], labels: Sequence[str], cfg: TrainConfig,
                    progress: bool = False, vectors: Optional[np.ndarray] = None) -> Fitted:
    """Train one of the paper's networks on per-clip 130-value vectors (200 epochs, RMSprop)."""
    from training.models import ModelConfig, build_model
    from training.paper import VECTOR_SIZE, clip_vectors

    x = vectors if vectors is not None else clip_vectors(train_seqs, progress=progress)
    index = {n: i for i, n in enumerate(labels)}
    y = np.array([index[s.label] for s in train_seqs])
    mcfg = ModelConfig(arch=cfg.arch, num_classes=len(labels), input_shape=(VECTOR_SIZE, 1), seed=cfg.seed,
                       learning_rate=0.001, optimizer="rmsprop")
    model = build_model(mcfg)
    callbacks = [_progress_callback(cfg.paper_epochs, f"training {cfg.arch}")] if progress else []
    hist = model.fit(x, y, epochs=cfg.paper_epochs, batch_size=cfg.paper_batch_size, shuffle=True, verbose=0,
                     callbacks=callbacks)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history["epochs_run"] = len(history.get("loss", []))
    return Fitted(model, tuple(labels), cfg, mcfg.to_dict(), None, history)


def fit_baseline_model(train_seqs: Sequence[PoseSequence], labels: Sequence[str], cfg: TrainConfig,
                       progress: bool = False, windows: Optional[WindowSet] = None):
    """Logistic regression on statistics of the same augmented windows the deep model sees."""
    from training.baseline import fit_baseline

    tr = windows or training_windows(train_seqs, labels, cfg.spec, cfg.per_class, cfg.seed, cfg.augment,
                                     progress=progress, real_share=cfg.real_share)
    return fit_baseline(tr.x, tr.y, list(labels), cfg.spec, seed=cfg.seed)


# ------------------------------------------------------------------ the command


def _split(ds: Dataset, cfg: TrainConfig) -> tuple[list[PoseSequence], list[PoseSequence], Optional[Folds]]:
    if cfg.test_fold is None:
        return list(ds.inset), [], None
    folds = make_folds(ds.inset, cfg.folds, cfg.seed)
    train_seqs, test_seqs = folds.split(ds.inset, cfg.test_fold)
    return train_seqs, test_seqs, folds


def save_keras(model: Any, out: Path) -> None:
    """Save atomically: write ``.name.tmp.keras`` beside ``out``, then rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    model.save(tmp)
    tmp.replace(out)


def real_threshold_scale(report_path: str | Path) -> tuple[float, dict]:
    """The factor for the "unsure" distance threshold measured on real held-out dancers.

    Read from a real-video report (``edgerec realvideo``): the mean, over its dancer folds,
    of :func:`training.realvideo.distance_ratio` of each fold's held-out dancer under the
    fold model that scored that dancer in the report (the one exposed to the most outlier
    clips, the closest to a shipped model). Returns the factor and a record of where it
    came from, for the card.
    """
    import json

    path = Path(report_path)
    try:
        rep = json.loads(path.read_text())
        ratios = []
        for fold in rep["protocol"]["folds"]:
            # the fold model that scored the fold's own dancer: the one closest to a shipped model
            models = [m for m in fold["models"] if m.get("distance_ratio") is not None
                      and "in-set test clips" in m.get("scores", [])]
            ratios += [float(m["distance_ratio"]) for m in models]
        quantile = float(rep["protocol"]["real_accept_quantile"])
        labels = list(rep["protocol"].get("labels", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a real-video report with fold distance ratios ({exc}); "
                         "write one with `edgerec realvideo`") from exc
    if not ratios:
        raise ValueError(f"{path}: the report has no dancer folds to calibrate from; run `edgerec realvideo`")
    scale = float(np.clip(np.mean(ratios), *THRESHOLD_SCALE_RANGE))
    return scale, {"distance_threshold_scale": round(scale, 6), "from": str(path), "dancer_ratios": ratios,
                   "accept_quantile": quantile, "labels": labels,
                   "method": "threshold x mean over leave-one-dancer-out folds of (quantile of the held-out "
                             "real dancer's window distances / the fold model's own threshold)"}


def train(data_dir: str | Path, out: str | Path, cfg: TrainConfig, sources: Sequence[str] = DEFAULT_SOURCES,
          progress: bool = True, real_calibration: Optional[str | Path] = None) -> dict:
    """Train ``cfg.arch`` on ``data_dir``, write the model and its card to ``out``, return the card.

    A window model is also exposed to the real-camera out-of-set clips (outlier exposure,
    ``cfg.outlier_share``); ``real_calibration`` names a real-video report whose measured
    ratio scales the "unsure" distance threshold (:func:`real_threshold_scale`).
    """
    from training.card import data_fingerprint, write_card
    from training.evaluate import evaluate_loaded

    started = time.time()
    out = Path(out)
    real_scale = None
    if real_calibration is not None:
        if cfg.arch not in WINDOW_ARCHS:
            raise ValueError(f"--real-calibration scales the unsure threshold of a window model; {cfg.arch!r} has none")
        if cfg.test_fold is not None:
            raise ValueError("--real-calibration is measured on every real dancer; use it with --test-fold none, "
                             "or the test fold's dancers would set the threshold that scores them")
        real_scale = real_threshold_scale(real_calibration)  # read first: a bad report must not waste a run
    if cfg.arch not in ALL_ARCHS:
        raise ValueError(f"unknown arch {cfg.arch!r}; choose one of {', '.join(ALL_ARCHS)}")
    expected_suffix = ".json" if cfg.arch == "baseline" else ".keras"
    if out.suffix != expected_suffix:
        raise ValueError(f"{out}: a {cfg.arch} model is written as {expected_suffix}; use --out NAME{expected_suffix}")
    keras_seed(cfg.seed)
    ds = load_dataset(data_dir, sources, cfg.min_groups, progress=progress)
    if real_scale is not None and real_scale[1]["labels"] and real_scale[1]["labels"] != list(ds.labels):
        raise ValueError(f"{real_calibration}: the report's labels {real_scale[1]['labels']} are not this "
                         f"model's {list(ds.labels)}; rerun `edgerec realvideo` on the same data")
    train_seqs, test_seqs, folds = _split(ds, cfg)
    card: dict[str, Any] = {
        "arch": cfg.arch,
        "labels": list(ds.labels),
        "edgerec_version": edge.__version__,
        "created_unix": int(time.time()),
        "train_config": cfg.to_dict(),
        "data": {
            "root": str(ds.root),
            "fingerprint_sha256": data_fingerprint([Path(s.path) for s in ds.inset + ds.outset]),
            "sources": sorted({s.source for s in ds.inset}),
            "clips_per_label": {lab: sum(s.label == lab for s in ds.inset) for lab in ds.labels},
            "groups_per_label": group_counts(ds.inset),
            "out_of_set_labels": sorted({s.label for s in ds.outset}),
            "licences": "Music-to-Dance (research, cite Tang et al. 2018); CMU mocap (free, cite mocap.cs.cmu.edu); "
                        "AIST++ annotations CC BY 4.0",
        },
        "split": {
            "method": "grouped folds (whole clips; clips sharing frames and both partners of a CMU take together)",
            "k": cfg.folds, "test_fold": cfg.test_fold, "seed": cfg.seed,
            "train_clips": [s.clip_id for s in train_seqs], "test_clips": [s.clip_id for s in test_seqs],
        },
    }
    if cfg.arch == "baseline":
        fit_baseline_model(train_seqs, ds.labels, cfg, progress).save(out)
        card.update(preprocessing="windows", feature_spec=cfg.spec.to_dict(), hop_seconds=cfg.hop_seconds,
                    eval_camera=asdict(EVAL_CAMERA))
    elif cfg.arch in PAPER_ARCHS:
        fitted = fit_paper_model(train_seqs, ds.labels, cfg, progress)
        save_keras(fitted.model, out)
        from training.paper import audio_card

        card.update(preprocessing="paper-clip", model_config=fitted.model_config, history=fitted.history,
                    params=int(fitted.model.count_params()),
                    input={"shape": [1, 130, 1], "dtype": "float32"}, eval_camera=asdict(EVAL_CAMERA),
                    audio=audio_card(train_seqs))
    else:
        from training.windows import is_real

        outliers = [s for s in ds.outset if is_real(s)] if cfg.outlier_share > 0 else []
        fitted = fit_window_model(train_seqs, ds.labels, cfg, progress, outliers=outliers)
        calibration = fitted.calibration
        real_cal = None
        if real_scale is not None and calibration is not None:
            scale, real_cal = real_scale
            calibration = replace(calibration, distance_threshold=calibration.distance_threshold * scale)
            real_cal["validation_threshold"] = fitted.calibration.distance_threshold
        card["data"]["outlier_exposure_clips"] = [s.clip_id for s in outliers]
        fitted = replace(fitted, calibration=calibration)
        save_keras(fitted.model, out)
        card.update(
            preprocessing="windows",
            feature_spec=cfg.spec.to_dict(),
            hop_seconds=cfg.hop_seconds,
            eval_camera=asdict(EVAL_CAMERA),
            input={"shape": [1, cfg.spec.window_frames, cfg.spec.num_channels], "dtype": "float32"},
            normalisation={"inside_model": True, "layer": "standardise",
                           "mean": np.round(fitted.norm_mean, 6).tolist(), "std": np.round(fitted.norm_std, 6).tolist()},
            calibration={**fitted.calibration.to_dict(), **({"real_video": real_cal} if real_cal else {})}
            if fitted.calibration else None,
            model_config=fitted.model_config,
            history=fitted.history,
            params=int(fitted.model.count_params()),
        )
    write_card(out, card)
    exposed = set(card["data"].get("outlier_exposure_clips", []))
    unseen_outset = [s for s in ds.outset if s.clip_id not in exposed]
    if test_seqs or unseen_outset:
        # out-of-set clips the model was exposed to in training are not held out: never scored here
        metrics = evaluate_loaded(out, list(test_seqs) + unseen_outset)
        metrics.pop("predictions", None)
        card["metrics"] = {"held_out": metrics}
    card["train_seconds"] = round(time.time() - started, 1)
    write_card(out, card)
    return card


def keras_seed(seed: int) -> None:
    """Seed numpy and (if loaded) Keras/TensorFlow for a reproducible run."""
    np.random.seed(seed)
    try:
        _keras().utils.set_random_seed(seed)
    except ImportError:  # pragma: no cover
        pass

