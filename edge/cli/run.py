"""``edgerec run`` and ``edgerec demo``: the device commands' options.

``run`` streams a camera, a video (file or URL) or recorded landmarks through pose, the
classifier and the recommender, printing one line per update (``--json``: one JSON object
per line, then a summary object), optionally writing an annotated video (``--save``) and
showing a window (``--show``). ``demo`` is ``run`` on the camera when one exists, else on a
sample video, with the shipped model and catalogue. The run itself is
:func:`edge.runtime.session.run_pipeline`; this module turns options into
:class:`~edge.runtime.session.RunOptions`. None of this imports TensorFlow.
"""

from __future__ import annotations

import signal
import sys
from typing import Callable, Optional

import click

from edge.cli import types
from edge.pose import POSE_CHOICES
from edge.runtime.session import RunError, RunOptions, run_pipeline, sample_inputs


def _parse_size(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[tuple[int, int]]:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size like 1280x720") from None
    if max(w, h) > types.MAX_SIDE:
        raise click.BadParameter(f"{value!r} is larger than {types.MAX_SIDE} pixels a side")
    return w, h


def _variant_names() -> list[str]:
    from edge.pose.models import POSE_VARIANTS

    return list(POSE_VARIANTS)


def _run_options(f: Callable) -> Callable:
    """The options ``run`` and ``demo`` share."""
    opts = [
        click.option("--model", type=click.Path(dir_okay=False), multiple=True,
                     help="classifier .tflite/.onnx (default: the shipped edge model); again for a paper model "
                          "(--arch paper) to show beside it, which needs sound"),
        click.option("--catalog", type=click.Path(dir_okay=False), default=None,
                     help="music catalogue JSON (default: shipped songs + dataset songs if present)"),
        click.option("--no-dataset-songs", is_flag=True, help="do not add the Music-to-Dance songs to the default catalogue"),
        click.option("--pose", "pose", type=click.Choice(POSE_CHOICES), default="auto", show_default=True,
                     help="pose stage"),
        click.option("--pose-variant", type=click.Choice(_variant_names()), default="float32", show_default=True,
                     help="native pose models: float32 (.tflite) or a built ONNX variant (edgerec pose info)"),
        click.option("--threads", type=types.count(1, 256), default=1, show_default=True,
                     help="inference threads (pose and classifier)"),
        click.option("--pose-every", type=types.count(1, 1000), default=1, show_default=True,
                     help="run pose on every n-th frame only (more FPS, lower pose rate)"),
        click.option("--every", type=types.HOP, default=0.5, show_default=True,
                     help="seconds between style updates (the hop)"),
        click.option("--top", type=types.count(1, 100), default=3, show_default=True, help="songs recommended per update"),
        click.option("--json", "json_lines", is_flag=True, help="one JSON object per update on stdout, then a summary"),
        click.option("--save", type=click.Path(dir_okay=False), default=None, help="write an annotated video (.mp4)"),
        click.option("--show", is_flag=True, help="show the annotated video in a window (q to quit)"),
        click.option("--max-frames", type=click.IntRange(min=1), default=None, help="stop after this many frames"),
        click.option("--duration", type=types.DURATION, default=None,
                     help="stop after this many seconds of input"),
        click.option("--no-smooth", is_flag=True, help="no One Euro smoothing of the landmarks"),
        click.option("--styles", type=click.Path(dir_okay=False), default=None,
                     help="a style pack of your own styles (default: ~/.config/edgerec/styles.json when it exists)"),
        click.option("--only-my-styles", is_flag=True, help="recognise only the pack's styles, not the model's"),
        click.option("--no-styles", is_flag=True, help="do not use the default style pack"),
        click.option("--mic", is_flag=False, flag_value="default", default=None, metavar="[DEVICE]",
                     help="listen to a microphone: the default input, or a device index or name (needs edgerec[audio])"),
        click.option("--no-audio", is_flag=True, help="do not listen (pose only), even to a video's sound track"),
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
    if summary.get("interrupted"):  # the video is saved and the summary printed: exit as the signal says
        sys.exit(128 + signal.Signals[summary.get("stopped_by", "SIGINT")].value)


@click.command("run")
@click.option("--camera", is_flag=False, flag_value="0", default=None, metavar="[INDEX|DEVICE]",
              help="a camera: index (default 0), /dev/videoN, or 'picamera2' on a Raspberry Pi")
@click.option("--video", default=None, metavar="PATH_OR_URL", help="a video file, or an http(s)/rtsp stream")
@click.option("--poses", type=click.Path(dir_okay=False), default=None,
              help="recorded landmarks (T, 33, 4) .npy, e.g. VIDEO_mediapipe33.npy")
@click.option("--fps", type=types.FPS, default=None,
              help="frame rate of --poses when neither a video nor an `edgerec data extract` sidecar is beside it")
@click.option("--size", callback=_parse_size, default=None, metavar="WxH",
              help="image size of --poses when neither a video nor an `edgerec data extract` sidecar is beside it")
@click.option("--realtime", is_flag=True, help="read a video file at its own speed, dropping frames like a camera")
@click.option("--audio", "audio_file", type=click.Path(dir_okay=False), default=None,
              help="the music of --poses: an audio file whose start is the landmarks' first frame")
@_run_options
def run(camera, video, poses, fps, size, realtime, audio_file, model, catalog, no_dataset_songs, pose, pose_variant,
        threads, pose_every, every, top, json_lines, save, show, max_frames, duration, no_smooth, styles,
        only_my_styles, no_styles, mic, no_audio, quiet) -> None:
    """Recognise the dance style live and recommend music that fits the movement.

    Give one input: --camera [INDEX], --video PATH_OR_URL or --poses FILE. A video's sound
    track is heard (the music's tempo, the beat score, songs that sound alike); --mic
    listens to a microphone, --audio FILE gives --poses its music, --no-audio turns it off.
    """
    _execute(RunOptions(camera=camera, video=video, poses=poses, model=model[0] if model else None,
                        also_models=tuple(model[1:]), catalog=catalog,
                        dataset_songs=not no_dataset_songs, pose=pose, pose_variant=pose_variant, threads=threads,
                        pose_every=pose_every,
                        every=every, top=top, json_lines=json_lines, save=save, show=show, max_frames=max_frames,
                        duration=duration, realtime=realtime, smooth=not no_smooth, fps=fps, size=size,
                        quiet=quiet, styles=styles, only_my_styles=only_my_styles, no_styles=no_styles,
                        audio=audio_file, mic=mic, no_audio=no_audio))


@click.command("demo")
@click.option("--no-camera", is_flag=True, help="use the sample video even when a camera exists")
@click.option("--sample", type=click.Path(dir_okay=False, exists=True), default=None,
              help="the video to use when there is no camera (default: a shared-data sample)")
@_run_options
def demo(no_camera, sample, model, catalog, no_dataset_songs, pose, pose_variant, threads, pose_every, every, top,
         json_lines, save, show, max_frames, duration, no_smooth, styles, only_my_styles, no_styles, mic, no_audio,
         quiet) -> None:
    """The whole pipeline on the camera, or on a sample video when there is none."""
    from edge.sources import camera_available  # looked up here, so tests can stand in for a camera

    camera = None
    video = sample
    if video is None:
        if not no_camera and camera_available(0):
            camera = "0"
        else:
            samples = sample_inputs()
            if not samples:
                from edge.core.paths import data_root

                raise click.ClickException(
                    f"no camera and no sample video (looked in {data_root() / 'videos'}); set EDGEREC_DATA "
                    "to the shared data folder or pass --sample VIDEO")
            video = str(samples[0])
    if not quiet:
        click.echo(f"edgerec demo: {'camera 0' if camera else video}", err=True)
    _execute(RunOptions(camera=camera, video=video, model=model[0] if model else None,
                        also_models=tuple(model[1:]), catalog=catalog,
                        dataset_songs=not no_dataset_songs, pose=pose, pose_variant=pose_variant, threads=threads,
                        pose_every=pose_every,
                        every=every, top=top, json_lines=json_lines, save=save, show=show,
                        max_frames=max_frames, duration=duration,
                        smooth=not no_smooth, quiet=quiet, styles=styles, only_my_styles=only_my_styles,
                        no_styles=no_styles, mic=mic, no_audio=no_audio))


