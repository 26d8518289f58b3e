"""``edgerec pose``: fetch, inspect and (with the convert extra) build the pose stage's models."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.lazy import LazyGroup


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
