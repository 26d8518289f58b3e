"""One run of the pipeline from a set of options: the source, pose stage, model and
catalogue opened, every frame through :class:`edge.runtime.loop.Runtime`, the updates
printed, the annotated video written, everything closed, and the summary returned.

``edgerec run`` and ``edgerec demo`` (:mod:`edge.cli.run`) are this with click options in
front; the benchmarks drive the same function, so what they time is what a user runs.
Anything a user can fix is a :class:`RunError` with a one-line message.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import click

from edge.core import jsonio
from edge.core.errors import Expected, describe


class RunError(Expected):
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
    #: A style pack (``edgerec styles``); None: the default pack when there is one.
    styles: Optional[str] = None
    only_my_styles: bool = False
    #: Do not use the default style pack.
    no_styles: bool = False
    #: An audio file to hear beside ``poses`` (``--audio``); a microphone (``--mic``: None =
    #: none, "" = the default input, else a device index or name); no audio at all.
    audio: Optional[str] = None
    mic: Optional[str] = None
    no_audio: bool = False
    #: More model files after ``model`` (``--model A --model B``): at most one window model
    #: in all (the edge model; the shipped one when none is given), the others companion
    #: clip models (the paper's), whose answers are shown beside it.
    also_models: tuple[str, ...] = ()


def with_styles(model: Any, opts: RunOptions, log: Callable[[str], None]) -> Any:
    """``model`` with the user's style pack: ``opts.styles``, else the default pack when it
    exists. A pack given explicitly must match the model (a one-line error names both); the
    default pack of another model is skipped with a note."""
    from edge.classify.packs import PackedStyleModel, default_pack_path, load_pack

    if opts.no_styles:
        if opts.only_my_styles:
            raise ValueError("--only-my-styles needs a style pack; leave out --no-styles")
        return model
    path = Path(opts.styles) if opts.styles else default_pack_path()
    if opts.styles is None and getattr(model, "calibration", None) is None and not opts.only_my_styles:
        return model  # a model without an embedding cannot hold taught styles; nothing to add
    if opts.styles is None and not path.exists():
        if opts.only_my_styles:
            raise ValueError(f"{path}: no style pack yet; teach a style with `edgerec styles add NAME --video CLIP`")
        return model
    pack = load_pack(path)
    if opts.styles is None and not opts.only_my_styles:
        from edge.classify.packs import model_ref

        if pack.model.fingerprint != model_ref(model).fingerprint:
            log(f"note: the style pack {path} was made with another model ({pack.model.name}); not used")
            return model
        if not pack.styles:
            return model
    return PackedStyleModel(model, pack, only_pack=opts.only_my_styles)


def format_update(u: dict[str, Any]) -> str:
    """One update as the text line ``edgerec run`` prints."""
    lat = u["latency_ms"]
    head = f"{u['t']:6.1f}s  "
    if u["state"] == "style":
        head += f"{u['style']} {u['confidence']:.0%}"
    elif u["state"] == "unsure":
        top = max(u["probs"], key=u["probs"].get) if u.get("probs") else "?"
        head += f"unsure (closest: {top})"
    else:
        head += {"warming_up": "watching...", "no_dancer": "no dancer in view",
                 "still": "still (no movement)"}.get(u["state"], u["state"])
    if u.get("view") == "upper":
        head += " [upper body]"
    if u.get("movement_bpm"):
        head += f"  {u['movement_bpm']:.0f} steps/min"
    music = u.get("music")
    if music and music.get("silent"):
        head += "  | music: silence"
    elif music and music.get("bpm"):
        head += f"  | music {music['bpm']:.0f} BPM"
        beat = u.get("on_beat")
        if beat and beat.get("score") is not None:
            head += f", on the beat {beat['score']:.0%}"
    if u.get("companions"):
        from edge.runtime.companions import companion_text

        head += "".join(f"  | {companion_text(c)}" for c in u["companions"])
    if u["recommendations"]:
        r = u["recommendations"][0]
        head += f"  -> {r['title']}"
        if r.get("bpm"):
            head += f" ({r['bpm']:.0f} BPM)"
    head += f"  | pose {lat['pose']:.0f} ms, {u['fps']:.0f} FPS"
    return head


def format_summary(s: dict[str, Any]) -> list[str]:
    """The run summary as the lines ``edgerec run`` prints on stderr."""
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
    audio = s.get("audio")
    if audio:
        line = f"  audio: {audio.get('source', 'heard')}, {audio['seconds']:.1f} s heard"
        if audio.get("music_bpm"):
            line += f", music {audio['music_bpm']['p50']:.0f} BPM (median)"
        if audio.get("on_beat"):
            line += f", on the beat {audio['on_beat']['mean']:.0%} on average over {audio['on_beat']['n']} updates"
        lines.append(line)
    for c in s.get("companions") or ():
        shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(c["style_shares"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  {c['model']} (paper, {c['window_seconds']:g} s of pose and sound): answered "
                     f"{c['answered']} updates" + (f": {shares}" if shares else ""))
    final = s.get("final")
    if final and final["recommendations"]:
        lines.append("  last recommendations:")
        for i, r in enumerate(final["recommendations"], 1):
            lines.append(f"    {i}. {r['title']}: {r['why']}")
    return lines


def split_models(opts: RunOptions) -> tuple[Optional[str], list[str]]:
    """The window model (None: the shipped one) and the clip models among ``--model`` files.

    Each file's card says which it is (:func:`edge.classify.clip.is_clip_model`); a file
    whose card cannot be read counts as a window model, so opening it reports what is wrong.
    More than one window model is a :class:`RunError` (one edge model decides per stream)."""
    from edge.classify.clip import is_clip_model

    given = ([opts.model] if opts.model else []) + list(opts.also_models)
    windows = [p for p in given if not is_clip_model(p)]
    clips = [p for p in given if is_clip_model(p)]
    if len(windows) > 1:
        raise RunError(f"--model was given {len(windows)} pose-window models ({', '.join(windows)}); give one, "
                       "plus any number of paper models (--arch paper) to show beside it")
    return (windows[0] if windows else None), clips


def open_companions(paths: list[str], opts: RunOptions) -> list[Any]:
    """Open each clip model as a :class:`edge.runtime.companions.ClipCompanion` (closing
    those opened when one fails: a :class:`RunError` naming it)."""
    from edge.classify.clip import ClipModel
    from edge.classify.model import ModelError
    from edge.runtime.companions import ClipCompanion
    from edge.features.beat import MusicSpec

    out: list[Any] = []
    for p in paths:
        try:
            out.append(ClipCompanion(ClipModel(p, threads=opts.threads), MusicSpec()))
        except ModelError as exc:
            for c in out:
                c.close()
            raise RunError(str(exc)) from None
    return out


def _close_all(model: Any, companions: list[Any]) -> None:
    model.close()
    for c in companions:
        c.close()


def run_pipeline(opts: RunOptions, emit: Callable[[str], None] = click.echo,
                 log: Callable[[str], None] = lambda m: click.echo(m, err=True)) -> dict[str, Any]:
    """Run the whole pipeline as the options say; returns the summary dict.

    ``emit`` receives the per-update output (text or JSON lines), ``log`` the messages for a
    person. Raises :class:`RunError` with a one-line message for anything a user can fix.
    """
    from edge.classify.model import ModelError, StyleModel
    from edge.core.assets import default_model_path
    from edge.recommend.library import runtime_catalog
    from edge.runtime.loop import Runtime, RuntimeConfig
    from edge.runtime.overlay import AnnotatedWriter, blank_frame, check_save_path, draw
    from edge.sources.audio import AudioError, open_audio
    from edge.sources.frames import SourceError, open_source

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
    window_path, clip_paths = split_models(opts)
    try:
        model = StyleModel(window_path or default_model_path(), threads=opts.threads)
    except (ModelError, FileNotFoundError) as exc:
        raise RunError(str(exc)) from None
    try:
        model = with_styles(model, opts, log)
    except ValueError as exc:
        model.close()
        raise RunError(str(exc)) from None
    companions: list[Any] = []
    try:
        companions = open_companions(clip_paths, opts)
    except RunError:
        model.close()
        raise
    try:
        catalog = runtime_catalog(Path(opts.catalog) if opts.catalog else None, opts.dataset_songs,
                                  show_progress=not opts.quiet)
    except ValueError as exc:
        _close_all(model, companions)
        raise RunError(str(exc)) from None
    try:
        source = open_source(opts.camera, opts.video, opts.poses, opts.realtime, opts.fps, opts.size,
                             with_video=bool(opts.save or opts.show))
    except (SourceError, ValueError) as exc:
        _close_all(model, companions)
        raise RunError(str(exc)) from None

    try:
        audio, note = open_audio(video=opts.video, audio_file=opts.audio, mic=opts.mic, no_audio=opts.no_audio)
    except (AudioError, ValueError) as exc:
        source.close()
        _close_all(model, companions)
        raise RunError(str(exc)) from None
    if audio is None and companions:
        source.close()
        _close_all(model, companions)
        why = "--no-audio was given" if opts.no_audio else (note or "no audio source")
        raise RunError(f"{companions[0].name} is the paper's audio-and-pose model and needs sound ({why}); "
                       "give a --video with a sound track, --audio FILE beside --poses, or --mic, "
                       "or drop that --model")
    if note and not opts.quiet:
        log(f"edgerec: {note}")

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
        runtime = Runtime(model, catalog, pose, config, companions=companions)
        audio_name = audio.description if audio is not None else None
        if not opts.quiet:
            stage = getattr(pose, "name", "recorded landmarks")
            heard = f" | audio: {audio_name}" if audio_name else ""
            also = "".join(f" + {c.name} ({len(c.model.labels)} styles, paper)" for c in companions)
            log(f"edgerec: {source.description} | pose: {stage} | model: {model.path.name} "
                f"({len(model.labels)} styles){also} | catalogue: {len(catalog)} songs{heard} "
                f"| update every {opts.every:g} s")
        if opts.show:
            window = _open_window()
        last_json: Optional[dict[str, Any]] = None
        start_t: Optional[float] = None
        interrupted = False
        stop_signal = None
        try:
            for frame in source:
                if opts.max_frames is not None and runtime.stats.frames >= opts.max_frames:
                    break
                start_t = frame.t if start_t is None else start_t
                if opts.duration is not None and frame.t - start_t > opts.duration:
                    break
                if audio is not None:
                    try:
                        for chunk in audio.read_until(frame.t):
                            runtime.hear(chunk.samples, chunk.sample_rate, chunk.t)
                    except AudioError as exc:  # a stream's sound that stops: say so once, go on
                        log(f"edgerec: {exc}; going on with pose only")
                        audio.close()
                        audio = None
                update = runtime.process(frame, dropped=source.dropped)
                if update is not None:
                    last_json = update.to_json()
                    emit(jsonio.dumps(last_json) if opts.json_lines else format_update(last_json))
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
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP raised as Terminated
            interrupted = True
            stop_signal = getattr(exc, "signum", signal.SIGINT)
        except SourceError as exc:
            log(f"edgerec: {exc}")
        summary = runtime.summary(source.description, source.dropped)
        if summary.get("audio") is not None and audio_name:
            summary["audio"]["source"] = audio_name
        summary["interrupted"] = interrupted
        if stop_signal is not None:
            summary["stopped_by"] = signal.Signals(stop_signal).name
        summary["pose_stage"] = getattr(pose, "name", "recorded")
        summary["pose_variant"] = opts.pose_variant if getattr(pose, "name", None) == "native" else None
        if runtime.stats.frames == 0:
            raise RunError(f"{source.description}: no frames were read; check the input")
    finally:
        save_error: Optional[BaseException] = None
        if writer is not None:
            try:
                saved = writer.close()
            except (ValueError, OSError) as exc:  # a full disk, a write OpenCV lost: nothing kept
                save_error = exc
            else:
                if saved is not None:
                    summary["saved"] = str(saved)
                    summary["saved_frames"] = writer.frames
        source.close()
        if audio is not None:
            audio.close()
        if pose is not None:
            pose.close()
        _close_all(model, companions)
        if window:
            window(None)
    if save_error is not None:
        raise RunError(describe(save_error) or str(save_error))
    if opts.json_lines:
        emit(jsonio.dumps(summary))
    if not opts.quiet:
        for line in format_summary(summary):
            log(line)
        if summary.get("saved"):
            log(f"  annotated video: {summary['saved']} ({summary['saved_frames']} frames)")
    return summary


def _open_window() -> Callable[[Any], bool]:
    """A display window; returns show(image) -> keep going (False when q/Esc is pressed)."""
    from edge.core.optional import require

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


#: Demo samples in the shared data, best first: a real salsa dancer (a style the model
#: knows, so the demo shows one), then clips of styles it does not know (it says unsure).
SAMPLE_VIDEOS = ("realvideo/salsa/ana_salsa_overlay.mp4", "videos/gangnam_style.mp4", "videos/macarena.mp4",
                 "videos/ballet.mp4", "videos/belly_dancing.mp4")


def sample_inputs() -> list[Path]:
    """Sample videos for the demo: ``$EDGEREC_SAMPLE``, else the shared data's videos."""
    from edge.core.paths import data_root

    env = os.environ.get("EDGEREC_SAMPLE")
    if env:
        return [Path(env)]
    root = data_root()
    found = [root / n for n in SAMPLE_VIDEOS if (root / n).is_file()]
    videos = root / "videos"
    return found or (sorted(videos.glob("*.mp4")) if videos.is_dir() else [])
