"""``edgerec run``, ``edgerec demo`` and ``edgerec pose``: the device commands.

``run`` streams a camera, a video (file or URL) or recorded landmarks through pose, the
classifier and the recommender, printing one line per update (``--json``: one JSON object
per line, then a summary object), optionally writing an annotated video (``--save``) and
showing a window (``--show``). ``demo`` is ``run`` on the camera when one exists, else on a
sample video, with the shipped model and catalogue. None of this imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import click

from edge.clitools import LazyGroup
from edge.pose import POSE_CHOICES


class RunError(Exception):
    """A one-line, user-facing failure of a run."""


@dataclass(frozen=True)
class RunOptions:
    """Everything a run needs, independent of the command line (benchmarks reuse it)."""

    camera: Optional[str] = None
    video: Optional[str] = None
    poses: Optional[str] = None
    model: Optional[str] = None
    catalog: Optional[str] = None
    dataset_songs: bool = True
    pose: str = "auto"
    pose_variant: str = "float32"
    threads: int = 1
    pose_every: int = 1
    every: float = 0.5
    top: int = 3
    json_lines: bool = False
    save: Optional[str] = None
    show: bool = False
    max_frames: Optional[int] = None
    duration: Optional[float] = None
    realtime: bool = False
    smooth: bool = True
    fps: Optional[float] = None
    size: Optional[tuple[int, int]] = None
    quiet: bool = False


def _fmt_update(u: dict[str, Any]) -> str:
    lat = u["latency_ms"]
    head = f"{u['t']:6.1f}s  "
    if u["state"] == "style":
        head += f"{u['style']} {u['confidence']:.0%}"
    elif u["state"] == "unsure":
        top = max(u["probs"], key=u["probs"].get) if u.get("probs") else "?"
        head += f"unsure (closest: {top})"
    else:
        head += {"warming_up": "watching...", "no_dancer": "no dancer in view"}[u["state"]]
    if u.get("view") == "upper":
        head += " [upper body]"
    if u.get("movement_bpm"):
        head += f"  {u['movement_bpm']:.0f} steps/min"
    if u["recommendations"]:
        r = u["recommendations"][0]
        head += f"  -> {r['title']}"
        if r.get("bpm"):
            head += f" ({r['bpm']:.0f} BPM)"
    head += f"  | pose {lat['pose']:.0f} ms, {u['fps']:.0f} FPS"
    return head


def _fmt_summary(s: dict[str, Any]) -> list[str]:
    lines = [f"summary: {s['frames']} frames from {s['source']}, pose found in {s['pose_fraction']:.0%}, "
             f"{s['updates']} updates, {s['dropped']} frames dropped"]
    if s.get("fps"):
        lines.append(f"  speed: {s['fps']:.1f} FPS over {s['wall_seconds']:.1f} s")
    lat = s["latency_ms"]
    parts = [f"{k} {v['p50']:.2f}/{v['p90']:.2f}" for k, v in lat.items() if v is not None]
    lines.append("  latency ms p50/p90: " + ", ".join(parts))
    states = ", ".join(f"{k} {v}" for k, v in s["states"].items() if v)
    lines.append(f"  states: {states}")
    if s["style_shares"]:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(s["style_shares"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  styles shown: {shares}")
    final = s.get("final")
    if final and final["recommendations"]:
        lines.append("  last recommendations:")
        for i, r in enumerate(final["recommendations"], 1):
            lines.append(f"    {i}. {r['title']}: {r['why']}")
    return lines


def run_pipeline(opts: RunOptions, emit: Callable[[str], None] = click.echo,
                 log: Callable[[str], None] = lambda m: click.echo(m, err=True)) -> dict[str, Any]:
    """Run the whole pipeline as the options say; returns the summary dict.

    ``emit`` receives the per-update output (text or JSON lines), ``log`` the messages for a
    person. Raises :class:`RunError` with a one-line message for anything a user can fix.
    """
    from edge.annotate import AnnotatedWriter, blank_frame, check_save_path, draw
    from edge.assets import default_model_path
    from edge.catalog_cli import runtime_catalog
    from edge.runtime import ModelError, Runtime, RuntimeConfig, StyleModel
    from edge.sources import SourceError, open_source

    if opts.threads < 1:
        raise RunError(f"--threads must be at least 1, got {opts.threads}")
    if opts.save:
        try:
            check_save_path(opts.save)
        except ValueError as exc:
            raise RunError(str(exc)) from None
    try:
        config = RuntimeConfig(hop_seconds=opts.every, top_k=opts.top, smooth_landmarks=opts.smooth,
                               pose_every=opts.pose_every)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    try:
        model = StyleModel(opts.model or default_model_path(), threads=opts.threads)
    except (ModelError, FileNotFoundError) as exc:
        raise RunError(str(exc)) from None
    try:
        catalog = runtime_catalog(Path(opts.catalog) if opts.catalog else None, opts.dataset_songs,
                                  show_progress=not opts.quiet)
    except ValueError as exc:
        model.close()
        raise RunError(str(exc)) from None
    try:
        source = open_source(opts.camera, opts.video, opts.poses, opts.realtime, opts.fps, opts.size,
                             with_video=bool(opts.save or opts.show))
    except (SourceError, ValueError) as exc:
        model.close()
        raise RunError(str(exc)) from None

    pose = None
    writer: Optional[AnnotatedWriter] = None
    window = None
    summary: dict[str, Any] = {}
    try:
        if opts.poses is None:
            from edge.pose import make_pose

            try:
                pose = make_pose(opts.pose, threads=opts.threads, variant=opts.pose_variant)
            except (FileNotFoundError, ValueError, ImportError) as exc:
                raise RunError(str(exc)) from None
        elif opts.pose not in ("auto",):
            log(f"note: --pose {opts.pose} is ignored with --poses (the landmarks are recorded)")
        runtime = Runtime(model, catalog, pose, config)
        if not opts.quiet:
            stage = getattr(pose, "name", "recorded landmarks")
            log(f"edgerec: {source.description} | pose: {stage} | model: {model.path.name} "
                f"({len(model.labels)} styles) | catalogue: {len(catalog)} songs | update every {opts.every:g} s")
        if opts.show:
            window = _open_window()
        last_json: Optional[dict[str, Any]] = None
        start_t: Optional[float] = None
        interrupted = False
        try:
            for frame in source:
                if opts.max_frames is not None and runtime.stats.frames >= opts.max_frames:
                    break
                start_t = frame.t if start_t is None else start_t
                if opts.duration is not None and frame.t - start_t > opts.duration:
                    break
                update = runtime.process(frame, dropped=source.dropped)
                if update is not None:
                    last_json = update.to_json()
                    emit(json.dumps(last_json) if opts.json_lines else _fmt_update(last_json))
                if opts.save or window:
                    image = frame.image if frame.image is not None else blank_frame(frame.size)
                    shown = draw(image, runtime.last_pose, last_json, runtime.fps)
                    if opts.save:
                        if writer is None:
                            try:
                                writer = AnnotatedWriter(opts.save, source.fps or 30.0, (shown.shape[1], shown.shape[0]))
                            except ValueError as exc:
                                raise RunError(str(exc)) from None
                        writer.write(shown)
                    if window and not window(shown):
                        break
        except KeyboardInterrupt:
            interrupted = True
        except SourceError as exc:
            log(f"edgerec: {exc}")
        summary = runtime.summary(source.description, source.dropped)
        summary["interrupted"] = interrupted
        summary["pose_stage"] = getattr(pose, "name", "recorded")
        summary["pose_variant"] = opts.pose_variant if getattr(pose, "name", None) == "native" else None
        if runtime.stats.frames == 0:
            raise RunError(f"{source.description}: no frames were read; check the input")
    finally:
        if writer is not None:
            saved = writer.close()
            if saved is not None:
                summary["saved"] = str(saved)
                summary["saved_frames"] = writer.frames
        source.close()
        if pose is not None:
            pose.close()
        model.close()
        if window:
            window(None)
    if opts.json_lines:
        emit(json.dumps(summary))
    if not opts.quiet:
        for line in _fmt_summary(summary):
            log(line)
        if summary.get("saved"):
            log(f"  annotated video: {summary['saved']} ({summary['saved_frames']} frames)")
    return summary


def _open_window() -> Callable[[Any], bool]:
    """A display window; returns show(image) -> keep going (False when q/Esc is pressed)."""
    from edge._optional import require

    cv2 = require("cv2", "edge", "opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RunError("--show needs a display (no DISPLAY is set); use --save OUT.mp4 instead")
    name = "edgerec"
    try:
        cv2.namedWindow(name, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise RunError(f"--show is not available: this OpenCV has no GUI ({str(exc).splitlines()[-1].strip()}); "
                       "install opencv-python instead of opencv-python-headless, or use --save") from None

    def show(image: Any) -> bool:
        if image is None:
            cv2.destroyWindow(name)
            return False
        cv2.imshow(name, image)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    return show


def _parse_size(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[tuple[int, int]]:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size like 1280x720") from None
    return w, h


def _variant_names() -> list[str]:
    from edge.pose.models import POSE_VARIANTS

    return list(POSE_VARIANTS)


def _run_options(f: Callable) -> Callable:
    """The options ``run`` and ``demo`` share."""
    opts = [
        click.option("--model", type=click.Path(dir_okay=False), default=None,
                     help="classifier .tflite/.onnx (default: the shipped edge model)"),
        click.option("--catalog", type=click.Path(dir_okay=False), default=None,
                     help="music catalogue JSON (default: shipped songs + dataset songs if present)"),
        click.option("--no-dataset-songs", is_flag=True, help="do not add the Music-to-Dance songs to the default catalogue"),
        click.option("--pose", "pose", type=click.Choice(POSE_CHOICES), default="auto", show_default=True,
                     help="pose stage"),
        click.option("--pose-variant", type=click.Choice(_variant_names()), default="float32", show_default=True,
                     help="native pose models: float32 (.tflite) or a built ONNX variant (edgerec pose info)"),
        click.option("--threads", type=int, default=1, show_default=True, help="inference threads (pose and classifier)"),
        click.option("--pose-every", type=click.IntRange(min=1), default=1, show_default=True,
                     help="run pose on every n-th frame only (more FPS, lower pose rate)"),
        click.option("--every", type=float, default=0.5, show_default=True, help="seconds between style updates (the hop)"),
        click.option("--top", type=int, default=3, show_default=True, help="songs recommended per update"),
        click.option("--json", "json_lines", is_flag=True, help="one JSON object per update on stdout, then a summary"),
        click.option("--save", type=click.Path(dir_okay=False), default=None, help="write an annotated video (.mp4)"),
        click.option("--show", is_flag=True, help="show the annotated video in a window (q to quit)"),
        click.option("--max-frames", type=click.IntRange(min=1), default=None, help="stop after this many frames"),
        click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="stop after this many seconds of input"),
        click.option("--no-smooth", is_flag=True, help="no One Euro smoothing of the landmarks"),
        click.option("--quiet", "-q", is_flag=True, help="no messages on stderr"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _execute(opts: RunOptions) -> None:
    try:
        summary = run_pipeline(opts, log=(lambda m: None) if opts.quiet else (lambda m: click.echo(m, err=True)))
    except RunError as exc:
        raise click.ClickException(str(exc)) from None
    if summary.get("interrupted"):
        sys.exit(130)


@click.command("run")
@click.option("--camera", is_flag=False, flag_value="0", default=None, metavar="[INDEX|DEVICE]",
              help="a camera: index (default 0), /dev/videoN, or 'picamera2' on a Raspberry Pi")
@click.option("--video", default=None, metavar="PATH_OR_URL", help="a video file, or an http(s)/rtsp stream")
@click.option("--poses", type=click.Path(dir_okay=False), default=None,
              help="recorded landmarks (T, 33, 4) .npy, e.g. VIDEO_mediapipe33.npy")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="frame rate of --poses when neither a video nor an `edgerec data extract` sidecar is beside it")
@click.option("--size", callback=_parse_size, default=None, metavar="WxH",
              help="image size of --poses when neither a video nor an `edgerec data extract` sidecar is beside it")
@click.option("--realtime", is_flag=True, help="read a video file at its own speed, dropping frames like a camera")
@_run_options
def run(camera, video, poses, fps, size, realtime, model, catalog, no_dataset_songs, pose, pose_variant, threads,
        pose_every, every,
        top, json_lines, save, show, max_frames, duration, no_smooth, quiet) -> None:
    """Recognise the dance style live and recommend music that fits the movement.

    Give one input: --camera [INDEX], --video PATH_OR_URL or --poses FILE.
    """
    _execute(RunOptions(camera=camera, video=video, poses=poses, model=model, catalog=catalog,
                        dataset_songs=not no_dataset_songs, pose=pose, pose_variant=pose_variant, threads=threads,
                        pose_every=pose_every,
                        every=every, top=top, json_lines=json_lines, save=save, show=show, max_frames=max_frames,
                        duration=duration, realtime=realtime, smooth=not no_smooth, fps=fps, size=size,
                        quiet=quiet))


#: Demo samples in the shared data, best first: a real salsa dancer (a style the model
#: knows, so the demo shows one), then clips of styles it does not know (it says unsure).
SAMPLE_VIDEOS = ("realvideo/salsa/ana_salsa_overlay.mp4", "videos/gangnam_style.mp4", "videos/macarena.mp4",
                 "videos/ballet.mp4", "videos/belly_dancing.mp4")


def sample_inputs() -> list[Path]:
    """Sample videos for the demo: ``$EDGEREC_SAMPLE``, else the shared data's videos."""
    from edge.paths import data_root

    env = os.environ.get("EDGEREC_SAMPLE")
    if env:
        return [Path(env)]
    root = data_root()
    found = [root / n for n in SAMPLE_VIDEOS if (root / n).is_file()]
    videos = root / "videos"
    return found or (sorted(videos.glob("*.mp4")) if videos.is_dir() else [])


@click.command("demo")
@click.option("--no-camera", is_flag=True, help="use the sample video even when a camera exists")
@click.option("--sample", type=click.Path(dir_okay=False, exists=True), default=None,
              help="the video to use when there is no camera (default: a shared-data sample)")
@_run_options
def demo(no_camera, sample, model, catalog, no_dataset_songs, pose, pose_variant, threads, pose_every, every, top,
         json_lines, save,
         show, max_frames, duration, no_smooth, quiet) -> None:
    """The whole pipeline on the camera, or on a sample video when there is none."""
    from edge.sources import camera_available

    camera = None
    video = sample
    if video is None:
        if not no_camera and camera_available(0):
            camera = "0"
        else:
            samples = sample_inputs()
            if not samples:
                from edge.paths import data_root

                raise click.ClickException(
                    f"no camera and no sample video (looked in {data_root() / 'videos'}); set EDGEREC_DATA "
                    "to the shared data folder or pass --sample VIDEO")
            video = str(samples[0])
    if not quiet:
        click.echo(f"edgerec demo: {'camera 0' if camera else video}", err=True)
    _execute(RunOptions(camera=camera, video=video, model=model, catalog=catalog,
                        dataset_songs=not no_dataset_songs, pose=pose, pose_variant=pose_variant, threads=threads,
                        pose_every=pose_every,
                        every=every, top=top, json_lines=json_lines, save=save, show=show,
                        max_frames=max_frames, duration=duration,
                        smooth=not no_smooth, quiet=quiet))


class _PoseGroup(LazyGroup):
    plugin_group = "edgerec.pose_commands"  # e.g. `pose build`, from converters (needs TensorFlow)


@click.group("pose", cls=_PoseGroup)
def pose_group() -> None:
    """Manage the pose stage (the BlazePose models the native stage runs)."""


@pose_group.command("fetch")
@click.option("--wheel", type=click.Path(dir_okay=False, exists=True), default=None,
              help="a mediapipe-0.10.14 wheel already on disk (no download)")
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="cache folder (default: the edgerec cache)")
def pose_fetch(wheel, dest) -> None:
    """Cache MediaPipe's BlazePose models (from the mediapipe 0.10.14 wheel on the package index)."""
    from edge.pose.models import fetch_pose_models

    try:
        out = fetch_pose_models(Path(dest) if dest else None, Path(wheel) if wheel else None)
    except (ValueError, OSError, RuntimeError) as exc:
        raise click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    click.echo(f"pose models ready in {out}")


@pose_group.command("info")
def pose_info() -> None:
    """Which pose stages are available here."""
    from edge.pose import POSE_STAGES
    from edge.pose.models import BUILD_COMMAND, POSE_VARIANTS, pose_models_dir

    for stage in POSE_STAGES.values():
        click.echo(f"{stage.name:10s} {'ready' if stage.available() else 'not available':14s} {stage.description}")
    folder = pose_models_dir()
    click.echo(f"native model variants in {folder} (--pose-variant):")
    for v in POSE_VARIANTS.values():
        files = [folder / f for f in v.files()]
        have = all(f.is_file() for f in files)
        state = (f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB" if have
                 else f"not {'built: ' + BUILD_COMMAND if v.built else 'fetched: edgerec pose fetch'}")
        click.echo(f"  {v.name:8s} {state:34s} {v.description}")
