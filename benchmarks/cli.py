"""``edgerec bench``: models, pipeline, compare, and the committed report.

``bench models`` and ``bench pipeline`` write ``OUT/NAME.json`` + ``.md`` (+ ``.png``);
``bench all`` runs both into one report (``benchmarks/reports/latest.*`` by default), the
one command that regenerates the committed report; ``bench compare A.json B.json`` prints
ratios per variant.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import click


def _ints(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[tuple[int, ...]]:
    if value is None:
        return None
    try:
        out = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise click.BadParameter(f"{value!r}: give comma-separated whole numbers, e.g. 1,2") from None
    if not out or min(out) < 1:
        raise click.BadParameter(f"{value!r}: every number must be at least 1")
    return out


def _default_threads(cores: Optional[int]) -> tuple[int, ...]:
    from benchmarks.env import available_cores

    n = cores or len(available_cores())
    return tuple(sorted({1, 2, n} & set(range(1, n + 1)) | {n}))


def _progress(quiet: bool):
    return (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))


def _command() -> str:
    return "edgerec " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _check_cores(cores: Optional[int]) -> None:
    from benchmarks.env import available_cores

    if cores is not None and not 1 <= cores <= len(available_cores()):
        raise click.BadParameter(f"{cores}: this machine offers {len(available_cores())} cores", param_hint="--cores")


@click.group("bench")
def bench() -> None:
    """Benchmark latency against accuracy, per model and end to end."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_common = [
    click.option("--threads", callback=_ints, default=None, help="thread counts, e.g. 1,2 (default: 1, 2 and all cores)"),
    click.option("--cores", type=click.IntRange(1, 1024), default=None,
                 help="pin to this many cores (approximates a smaller device) and cap threads at it"),
    click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("benchmarks/reports"),
                 show_default=True),
    click.option("--quiet", "-q", is_flag=True),
]


def _with(options):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f
    return deco


_model_opts = [
    click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)),
    click.option("--runs", type=click.IntRange(min=1), default=1000, show_default=True, help="timed inferences per variant"),
    click.option("--warmup", type=click.IntRange(min=0), default=50, show_default=True),
    click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="data for held-out accuracy (default: $EDGEREC_DATA or ../shared/data)"),
    click.option("--no-accuracy", is_flag=True, help="latency only"),
]
_pipeline_opts = [
    click.option("--video", "videos", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="video(s) to run (default: the shared sample videos)"),
    click.option("--pose", "pose", default="auto", show_default=True,
                 help="pose stage(s), comma-separated, e.g. native,mediapipe"),
    click.option("--pose-every", callback=_ints, default="1", show_default=True, help="pose every n-th frame, e.g. 1,2"),
    click.option("--max-frames", type=click.IntRange(min=1), default=None),
    click.option("--realtime", is_flag=True, help="pace files like a camera (then dropped frames count)"),
]


def _run_models(models, runs, warmup, data_dir, no_accuracy, threads, cores, quiet):
    from benchmarks.models import ModelBenchConfig, bench_models, find_models
    from edge.core.paths import data_root

    _check_cores(cores)
    try:
        paths = find_models(models)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    threads = tuple(t for t in (threads or _default_threads(cores)) if cores is None or t <= cores) or (1,)
    root = data_dir or data_root()
    if not no_accuracy and not root.is_dir():
        raise click.ClickException(f"{root}: no data for accuracy; set EDGEREC_DATA, pass --data, or --no-accuracy")
    cfg = ModelBenchConfig(threads=threads, runs=runs, warmup=warmup, cores=cores, accuracy=not no_accuracy)
    return bench_models(paths, cfg, None if no_accuracy else root, _progress(quiet))


def _run_pipeline(videos, pose, pose_every, max_frames, realtime, threads, cores, quiet):
    from benchmarks.pipeline import PipelineBenchConfig, bench_pipeline
    from edge.runtime.session import sample_inputs

    _check_cores(cores)
    videos = list(videos) or sample_inputs()
    if not videos:
        raise click.ClickException("no video given and no sample videos found; pass --video or set EDGEREC_DATA")
    threads = tuple(t for t in (threads or _default_threads(cores)) if cores is None or t <= cores) or (1,)
    from edge.pose import POSE_CHOICES

    stages = tuple(p.strip() for p in pose.split(",") if p.strip())
    bad = [p for p in stages if p not in POSE_CHOICES]
    if bad or not stages:
        raise click.BadParameter(f"{pose!r}: choose from {', '.join(POSE_CHOICES)}", param_hint="--pose")
    cfg = PipelineBenchConfig(threads=threads, pose_every=pose_every, pose=stages, cores=cores,
                              max_frames=max_frames, realtime=realtime)
    result = bench_pipeline(videos, cfg, _progress(quiet))
    errors = [r["error"] for r in result["results"] if "error" in r]
    if errors and len(errors) == len(result["results"]):
        raise click.ClickException(f"every pipeline run failed; first: {errors[0]}")
    return result


def _written(paths) -> None:
    for p in paths:
        click.echo(f"wrote {p}")


@bench.command("models")
@_with(_model_opts + _common)
@click.option("--name", default="models", show_default=True, help="report file name (without suffix)")
def models_cmd(models, runs, warmup, data_dir, no_accuracy, threads, cores, out_dir, quiet, name) -> None:
    """Latency (init, first, p50/p90/p99, mean), size, peak memory and held-out accuracy of MODELS
    (files, or folders of .tflite/.onnx/.keras/.json)."""
    from benchmarks.report import write_report

    result = _run_models(models, runs, warmup, data_dir, no_accuracy, threads, cores, quiet)
    _written(write_report(out_dir, name, models=result, command=_command()))


@bench.command("pipeline")
@_with(_pipeline_opts + _common)
@click.option("--name", default="pipeline", show_default=True, help="report file name (without suffix)")
def pipeline_cmd(videos, pose, pose_every, max_frames, realtime, threads, cores, out_dir, quiet, name) -> None:
    """The real runtime end to end: per-stage latency, sustained FPS, dropped frames, memory."""
    from benchmarks.report import write_report

    result = _run_pipeline(videos, pose, pose_every, max_frames, realtime, threads, cores, quiet)
    _written(write_report(out_dir, name, pipeline=result, command=_command()))


@bench.command("all")
@_with(_model_opts + _pipeline_opts + _common)
@click.option("--name", default="latest", show_default=True)
def all_cmd(models, runs, warmup, data_dir, no_accuracy, videos, pose, pose_every, max_frames, realtime, threads,
            cores, out_dir, quiet, name) -> None:
    """Models and pipeline into one report (the committed benchmarks/reports/latest.*)."""
    from benchmarks.report import write_report

    m = _run_models(models, runs, warmup, data_dir, no_accuracy, threads, cores, quiet)
    p = _run_pipeline(videos, pose, pose_every, max_frames, realtime, threads, cores, quiet)
    _written(write_report(out_dir, name, models=m, pipeline=p, command=_command()))


@bench.command("compare")
@click.argument("a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def compare_cmd(a: Path, b: Path) -> None:
    """Ratios B/A per variant (below 1: B is faster or smaller) for two benchmark JSON files."""
    from benchmarks.report import compare, load_result

    try:
        lines = compare(load_result(a), load_result(b))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


@bench.command("render")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def render_cmd(report: Path) -> None:
    """Rewrite REPORT's Markdown and plot from its JSON (after a change to the report code)."""
    from benchmarks.report import load_result, write_report

    try:
        doc = load_result(report)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if "kind" in doc:
        raise click.ClickException(f"{report}: a bare result; render the report JSON written by `edgerec bench`")
    _written(write_report(report.parent, report.stem, models=doc.get("models"), pipeline=doc.get("pipeline"),
                          command=doc.get("command", "")))


@bench.command("reliability")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/reliability"),
              show_default=True, help="folder for report.md / report.json (and the soak's files)")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="shared data folder (default: $EDGEREC_DATA or ../shared/data)")
@click.option("--fuzz-examples", type=click.IntRange(0, 1_000_000), default=1000, show_default=True,
              help="Hypothesis examples per fuzz target (0: skip the suites)")
@click.option("--soak-frames", type=click.IntRange(0, 100_000_000), default=300_000, show_default=True,
              help="frames replayed by the soak (0: skip it)")
@click.option("--quiet", "-q", is_flag=True)
def reliability_cmd(out_dir: Path, data_dir: Optional[Path], fuzz_examples: int, soak_frames: int, quiet: bool) -> None:
    """Break edgerec on purpose: scripted bad inputs, faults and signals, the fuzz suites and
    a soak, counted by outcome into OUT/report.md."""
    from benchmarks.reliability import write_report
    from edge.core.paths import data_root

    path = write_report(out_dir, data_dir or data_root(), _command(), fuzz_examples, soak_frames, _progress(quiet))
    click.echo(f"wrote {path}")


@bench.command("audio")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/audio"),
              show_default=True, help="folder for report.md / report.json and the plots")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="shared data folder (default: $EDGEREC_DATA or ../shared/data)")
@click.option("--quick", is_flag=True, help="a few songs (first 32 s) and one video: a smoke test, not a measurement")
@click.option("--quiet", "-q", is_flag=True)
def audio_cmd(out_dir: Path, data_dir: Optional[Path], quick: bool, quiet: bool) -> None:
    """Hear real songs: tempo and beats against librosa, the on-beat score in sync and out,
    the recommender's sound modes, the DanceSport tempo fit, into OUT/report.md."""
    from benchmarks.audio import write_report
    from edge.core.paths import data_root

    root = data_dir or data_root()
    if not root.is_dir():
        raise click.ClickException(f"{root}: no data folder; set EDGEREC_DATA or pass --data")
    try:
        paths = write_report(out_dir, root, _command(), quick=quick, quiet=quiet)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _written(paths)
