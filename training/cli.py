"""Training-side commands: ``data info``, ``train``, ``evaluate``, ``crossval``.

Joined to the ``edgerec`` group through the ``edgerec.commands`` entry points; this module
imports nothing heavy at import time (TensorFlow loads inside the commands that train).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import click

from edge.core import jsonio

from training.datasets import SOURCES, data_root

SOURCE_NAMES = [s.name for s in SOURCES]


def _fail(exc: Exception) -> None:
    """One line for an expected failure (an OSError from the system is said as the error
    boundary says it: ``PATH: problem; fix``)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        from edge.core.errors import describe

        raise click.ClickException(describe(exc) or str(exc)) from None
    lines = [line for line in str(exc).splitlines() if line.strip()]
    raise click.ClickException(lines[0] if lines else repr(exc)) from None


def quiet_tensorflow() -> None:
    """Silence TensorFlow's start-up and retracing chatter (errors still show)."""
    import logging
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tensorflow", "absl", "tf2onnx"):
        logging.getLogger(name).setLevel(logging.ERROR)


@click.group()
def data() -> None:
    """Inspect the datasets edgerec trains on."""


@data.command("info")
@click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--rate", default=10.0, show_default=True, help="Frame rate (Hz) the frame counts are given at.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def data_info(data_dir: Optional[Path], rate: float, as_json: bool) -> None:
    """Clips, minutes and frames per source and label in DATA_DIR (default: $EDGEREC_DATA or ../shared/data)."""
    from training.datasets import require_clips
    from training.stats import data_table, render_data_table

    root = data_dir or data_root()
    try:
        require_clips(root)  # an empty folder is an error naming the layouts, not an empty table
        rows = data_table(root, rate)
    except (ValueError, OSError) as exc:
        _fail(exc)
    if as_json:
        click.echo(jsonio.dumps(rows, indent=1))
    else:
        render_data_table(rows, root, rate)


@data.command("export-poses")
@click.argument("clip_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="landmark file to write (.npy, MediaPipe layout)")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (default: $EDGEREC_DATA or ../shared/data).")
def data_export_poses(clip_id: str, out: Path, data_dir: Optional[Path]) -> None:
    """Write dataset clip CLIP_ID (e.g. cmu:60_01) as landmarks for `edgerec run --poses`.

    3D clips are projected through the evaluation camera. The command prints the --fps and
    --size that `edgerec run --poses` needs for the file.
    """
    from training.export import export_poses, find_clip

    try:
        seq = find_clip(data_dir or data_root(), clip_id)
        path, fps, size = export_poses(seq, out)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo(f"wrote {path}: {seq.clip_id} ({seq.label}), {seq.num_frames} frames; replay with: "
               f"edgerec run --poses {path} --fps {fps:g} --size {size[0]}x{size[1]}")


def _pose_choice() -> click.Choice:
    from edge.pose import POSE_CHOICES

    return click.Choice(POSE_CHOICES)


def _pose_variant_choice() -> click.Choice:
    from edge.pose.models import POSE_VARIANTS

    return click.Choice(list(POSE_VARIANTS))


@data.command("extract")
@click.argument("video_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for the landmark files (the input's sub-folders are kept).")
@click.option("--pose", type=_pose_choice(), default="auto", show_default=True,
              help="Pose stage, as for `edgerec run`.")
@click.option("--pose-variant", type=_pose_variant_choice(), default="float32", show_default=True,
              help="Native pose models: float32 (.tflite) or a built ONNX variant (edgerec pose info).")
@click.option("--overwrite", is_flag=True, help="Redo videos that are already extracted.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Pose inference threads.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-video lines.")
def data_extract(video_dir: Path, out_dir: Path, pose: str, pose_variant: str, overwrite: bool, threads: int,
                 quiet: bool) -> None:
    """Landmarks of every video under VIDEO_DIR, from edgerec's own pose stage.

    Writes OUT/<sub-folder>/<stem>_mediapipe33.npy (float32 (T, 33, 4), the layout of the
    shared reference files) and a <stem>_mediapipe33.json sidecar (fps, size, label, ...),
    so `edgerec run --poses`, `evaluate` and training read them without the video. The
    label is the video's folder name inside VIDEO_DIR, else its file name. Files are
    written atomically; a second run skips the videos already done (a landmark file
    without a matching sidecar is redone). Exits non-zero if any video failed.
    """
    from edge.runtime.extract import ExtractConfig, ExtractError, extract

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    try:
        summary = extract(video_dir, out_dir, ExtractConfig(pose=pose, pose_variant=pose_variant, threads=threads,
                                                            overwrite=overwrite, progress=not quiet), log=log)
    except (ExtractError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    error = summary.error_line()
    if error is not None:
        raise click.ClickException(error)


def _arch_choice() -> click.Choice:
    from training.train import ALL_ARCHS

    return click.Choice(ALL_ARCHS)


@click.command()
@click.option("--arch", type=_arch_choice(), default="edge", show_default=True, help="Model to train.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (default: $EDGEREC_DATA or ../shared/data).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Model file to write (.keras; .json for the baseline). A NAME.card.json goes beside it.")
@click.option("--seed", default=0, show_default=True)
@click.option("--epochs", default=None, type=int, help="Maximum epochs (edge: early stopping; paper: exactly this).")
@click.option("--per-class", default=None, type=int, help="Augmented training windows per class.")
@click.option("--test-fold", default="0", show_default=True,
              help="Grouped fold held out for the card's metrics, or 'none' to train on everything.")
@click.option("--folds", default=5, show_default=True)
@click.option("--source", "sources", multiple=True, type=click.Choice(SOURCE_NAMES),
              help="Restrict to these sources (repeatable).")
@click.option("--real-calibration", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A real-video report (edgerec realvideo) whose measured ratio scales the unsure threshold, "
                   "so that it holds for real dancers the model never saw.")
def train(arch: str, data_dir: Optional[Path], out: Path, seed: int, epochs: Optional[int],
          per_class: Optional[int], test_fold: str, folds: int, sources: tuple[str, ...],
          real_calibration: Optional[Path]) -> None:
    """Train a model and write it with its JSON card."""
    quiet_tensorflow()
    from training.train import DEFAULT_SOURCES, TrainConfig, train as run_train

    cfg = TrainConfig(arch=arch, seed=seed, folds=folds,
                      test_fold=None if test_fold.lower() == "none" else int(test_fold))
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs, paper_epochs=epochs)
    if per_class is not None:
        cfg = replace(cfg, per_class=per_class, val_per_class=max(20, per_class // 4))
    try:
        card = run_train(data_dir or data_root(), out, cfg, sources or DEFAULT_SOURCES,
                         real_calibration=real_calibration)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo(f"wrote {out} and {out.with_name(out.stem + '.card.json').name} ({card['train_seconds']} s)")
    held = card.get("metrics", {}).get("held_out")
    if held:
        from training.stats import render_evaluation

        render_evaluation(held)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@click.option("--source", "sources", multiple=True, type=click.Choice(SOURCE_NAMES))
@click.option("--runtime", "at_runtime", is_flag=True,
              help="Score what `edgerec run` would show: replay every clip through the runtime (smoothing, "
                   "hysteresis, unsure). Videos without landmark files are run through the pose stage first.")
def evaluate(model: Path, data_dir: Path, as_json: bool, sources: tuple[str, ...], at_runtime: bool) -> None:
    """Score MODEL on every clip found under DATA_DIR (a folder laid out like ../shared/data,
    landmark files, or with --runtime also plain videos)."""
    quiet_tensorflow()
    if at_runtime:
        from training.realvideo import evaluate_runtime
        from training.stats import render_runtime_evaluation

        try:
            result = evaluate_runtime(model, data_dir, sources or None, progress=not as_json)
        except (ValueError, FileNotFoundError, OSError) as exc:
            _fail(exc)
        if as_json:
            click.echo(jsonio.dumps(result, indent=1))
        else:
            render_runtime_evaluation(result)
        return
    from training.evaluate import evaluate as run_eval, to_json

    try:
        result = run_eval(model, data_dir, sources or None)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    if as_json:
        click.echo(to_json(result))
    else:
        from training.stats import render_evaluation

        render_evaluation(result)


@click.command("realvideo")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (default: $EDGEREC_DATA or ../shared/data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/realvideo"), show_default=True, help="Folder for report.md and report.json.")
@click.option("--seed", default=0, show_default=True)
@click.option("--per-class", default=None, type=int, help="Augmented training windows per class (default: train's).")
@click.option("--epochs", default=None, type=int, help="Maximum epochs (default: train's).")
@click.option("--no-aistpp", is_flag=True, help="Skip the two AIST++ folds (same dancer, reported apart).")
@click.option("--quick", is_flag=True, help="Small settings for a smoke run (not for reporting).")
@click.option("--render-only", is_flag=True,
              help="Rewrite OUT/report.md from OUT/report.json (summaries recomputed from its per-clip rows).")
def realvideo(data_dir: Optional[Path], out_dir: Path, seed: int, per_class: Optional[int], epochs: Optional[int],
              no_aistpp: bool, quick: bool, render_only: bool) -> None:
    """Leave one real dancer out, scored at the runtime's decision level; writes the real-video report."""
    if render_only:
        from training.realvideo import resummarise
        from training.realvideo_report import command_of, write

        try:
            rep = json.loads((out_dir / "report.json").read_text())
            sources = rep.pop("source_tests", {})
            path = write(resummarise(rep), sources, out_dir, command_of(rep))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _fail(ValueError(f"{out_dir / 'report.json'}: cannot re-render it ({exc}); run `edgerec realvideo`"))
        click.echo(f"wrote {path}")
        return
    quiet_tensorflow()
    from training.realvideo import run_protocol
    from training.realvideo_report import write
    from training.train import TrainConfig, default_config, load_dataset
    from training.domain import before_augmentation, run_source_tests

    cfg = replace(default_config(), seed=seed)
    if quick:
        cfg = replace(cfg, per_class=60, val_per_class=30, epochs=3)
    if per_class is not None:
        cfg = replace(cfg, per_class=per_class, val_per_class=max(20, per_class // 4))
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    args = [a for a in sys.argv[1:]] if sys.argv and sys.argv[0].endswith("edgerec") else ["realvideo"]
    command = "edgerec " + " ".join(args)
    root = data_dir or data_root()
    try:
        result = run_protocol(root, cfg, progress=True, aistpp=not no_aistpp)
        result["seed"] = seed
        result["command"] = command
        ds = load_dataset(root)
        seqs = list(ds.inset) + list(ds.outset)
        per_group = 40 if quick else 150
        sources = {when: [t.to_dict() for t in run_source_tests(seqs, cfg.spec, aug, seed=seed, per_group=per_group)]
                   for when, aug in (("before", before_augmentation(cfg.augment)), ("after", cfg.augment))}
        path = write(result, sources, out_dir, command)
    except (ValueError, FileNotFoundError, OSError) as exc:
        _fail(exc)
    click.echo(f"wrote {path}")


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/crossval"),
              show_default=True, help="Folder for report.md, report.json and plots.")
@click.option("--archs", default="baseline,edge,paper,paper-lstm-bigru,paper-lstm-gru", show_default=True)
@click.option("--folds", default=5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--quick", is_flag=True, help="Small settings for a smoke run (not for reporting).")
def crossval(data_dir: Optional[Path], out_dir: Path, archs: str, folds: int, seed: int, quick: bool) -> None:
    """Grouped cross-validation of every model, the timing test and the band-limit experiment."""
    quiet_tensorflow()
    from training.crossval import run_crossval

    try:
        path = run_crossval(data_dir or data_root(), out_dir, tuple(a for a in archs.split(",") if a), folds, seed,
                            quick=quick)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo(f"wrote {path}")


@click.command("fewshot")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (default: $EDGEREC_DATA or ../shared/data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/fewshot"), show_default=True,
              help="Folder for report.md, report.json and accuracy_vs_k.png.")
@click.option("--draws", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Random draws of the example clips per k.")
@click.option("--seed", default=0, show_default=True)
@click.option("--fold-models/--no-fold-models", default=True, show_default=True,
              help="Also train one edge model per salsa dancer without that dancer and without out-of-set clips "
                   "(TensorFlow, a few minutes) and measure on those too.")
@click.option("--quick", is_flag=True, help="Small fold-model training for a smoke run (not for reporting).")
def fewshot(data_dir: Optional[Path], out_dir: Path, draws: int, seed: int, fold_models: bool, quick: bool) -> None:
    """Styles taught from k = 1, 2, 3, 5 real clips (style packs), scored as `edgerec run` shows them."""
    from training.fewshot import run_fewshot
    from training.fewshot_report import realvideo_reference, write

    if fold_models:
        quiet_tensorflow()
    command = f"edgerec fewshot --draws {draws} --seed {seed}"
    command += "" if fold_models else " --no-fold-models"
    command += " --quick" if quick and fold_models else ""
    if data_dir is not None:
        command += f" --data {data_dir}"
    if out_dir != Path("reports/fewshot"):
        command += f" --out {out_dir}"
    try:
        result = run_fewshot(data_dir or data_root(), draws=draws, seed=seed, progress=True,
                             fold_models=fold_models, quick=quick)
        result["command"] = command
        result["realvideo_reference"] = realvideo_reference()
        path = write(result, out_dir)
    except (ValueError, FileNotFoundError, OSError) as exc:
        _fail(exc)
    click.echo(f"wrote {path} ({result['seconds']:.0f} s)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train())
