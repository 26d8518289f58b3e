"""``edgerec styles``: teach edgerec your own dance styles from a few clips, and manage the
style packs they live in. The work is in :mod:`edge.runtime.teach` and
:mod:`edge.classify.packs`; this module parses options and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from edge.cli import types

_PACK_HELP = "style pack file (default: $EDGEREC_STYLES, else ~/.config/edgerec/styles.json)"


def _pack_path(pack: Optional[str]) -> Path:
    from edge.classify.packs import default_pack_path

    return Path(pack) if pack else default_pack_path()


def _model_path(model: Optional[str]) -> Path:
    from edge.core.assets import default_model_path

    return Path(model) if model else default_model_path()


@click.group("styles")
def styles() -> None:
    """Teach edgerec your own dance styles (style packs), without retraining."""


@styles.command("add")
@click.argument("name")
@click.option("--video", "videos", multiple=True, metavar="FILE", help="an example video (repeat for more)")
@click.option("--poses", "poses", multiple=True, metavar="FILE", help="an example landmark file (repeat for more)")
@click.option("--camera", is_flag=False, flag_value="0", default=None, metavar="[INDEX]",
              help="record the example from a camera")
@click.option("--seconds", type=types.Finite(5.0, 3600.0), default=30.0, show_default=True,
              help="seconds of camera (or of each example) to learn from")
@click.option("--music-tag", "music_tags", multiple=True, metavar="TAG",
              help="songs of this style in the catalogue fit the new style (repeat for more)")
@click.option("--song", "songs", multiple=True, metavar="ID", help="a catalogue song id that fits the new style")
@click.option("--pack", default=None, type=click.Path(dir_okay=False), help=_PACK_HELP)
@click.option("--model", default=None, type=click.Path(dir_okay=False), help="the model whose embedding the pack uses")
@click.option("--pose", "pose", type=click.Choice(["auto", "native", "mediapipe"]), default="auto", show_default=True)
@click.option("--fps", type=types.FPS, default=None, help="frame rate of --poses files without a sidecar")
@click.option("--threads", type=types.count(1, 256), default=1, show_default=True)
@click.option("--quiet", "-q", is_flag=True)
def add(name, videos, poses, camera, seconds, music_tags, songs, pack, model, pose, fps, threads, quiet) -> None:
    """Learn style NAME from example clips and add it to the pack (replacing one of that name)."""
    from edge.classify.packs import check_name
    from edge.runtime.teach import Example, teach

    name = check_name(name)
    examples = ([Example("video", v) for v in videos] + [Example("poses", p) for p in poses]
                + ([Example("camera", camera, seconds)] if camera is not None else []))
    if not examples:
        raise click.UsageError("give at least one example: --video FILE, --poses FILE or --camera")
    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    taught = teach(name, examples, _model_path(model), _pack_path(pack), music_tags, songs, pose, threads, fps,
                   progress=log)
    st = taught.style
    click.echo(f"{'replaced' if taught.replaced else 'added'} {st.name!r}: {st.windows} windows from "
               f"{len(st.examples)} example(s), spread {st.spread:.2f}; pack {taught.pack.path} "
               f"({len(taught.pack.styles)} styles)")
    near = taught.closest[:3]
    if near:
        thr = taught.distance_threshold
        parts = ", ".join(f"{c.name}{'' if c.own else ' (yours)'} {c.distance:.1f}" for c in near)
        verdict = "distinct" if near[0].distance > thr else f"close to {near[0].name}: the two may be confused"
        click.echo(f"  closest styles (distance; the unsure threshold is {thr:.1f}): {parts}: {verdict}")
    click.echo(f"  learned in {taught.seconds_after_pose:.2f} s after pose")


@styles.command("list")
@click.option("--pack", default=None, type=click.Path(dir_okay=False), help=_PACK_HELP)
def list_cmd(pack) -> None:
    """The styles in the pack."""
    from edge.classify.packs import load_pack

    path = _pack_path(pack)
    if not path.exists():
        click.echo(f"no style pack yet at {path}; teach one with: edgerec styles add NAME --video CLIP.mp4")
        return
    p = load_pack(path)
    click.echo(f"{path}: {len(p.styles)} styles, model {p.model.name} ({p.model.fingerprint[:12]})")
    for s in p.styles:
        music = ", ".join([*(f"tag {t}" for t in s.music_tags), *(f"song {x}" for x in s.songs)]) or "-"
        click.echo(f"  {s.name:20s} {s.windows:5d} windows from {len(s.examples)} example(s)  music: {music}")


@styles.command("remove")
@click.argument("name")
@click.option("--pack", default=None, type=click.Path(dir_okay=False), help=_PACK_HELP)
def remove(name, pack) -> None:
    """Remove style NAME from the pack."""
    from edge.classify.packs import load_pack, save_pack

    path = _pack_path(pack)
    save_pack(load_pack(path).without(name), path)
    click.echo(f"removed {name!r} from {path}")


@styles.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--pack", default=None, type=click.Path(dir_okay=False), help=_PACK_HELP)
def rename(old, new, pack) -> None:
    """Rename style OLD to NEW."""
    from edge.classify.packs import load_pack, save_pack

    path = _pack_path(pack)
    save_pack(load_pack(path).renamed(old, new), path)
    click.echo(f"renamed {old!r} to {new!r} in {path}")


@styles.command("export")
@click.argument("names", nargs=-1)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="pack file to write")
@click.option("--pack", default=None, type=click.Path(dir_okay=False), help=_PACK_HELP)
def export(names, out, pack) -> None:
    """Write styles NAMES (default: all) to a pack file to share."""
    from dataclasses import replace

    from edge.classify.packs import load_pack, save_pack

    src = load_pack(_pack_path(pack))
    chosen = [src.get(n) for n in names] if names else list(src.styles)
    missing = [n for n, s in zip(names, chosen) if s is None]
    if missing:
        raise click.ClickException(f"{src.path}: no style {missing[0]!r}; its styles: {', '.join(src.names)}")
    save_pack(replace(src, styles=tuple(chosen)), out)
    click.echo(f"wrote {out}: {len(chosen)} styles")


@styles.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--pack", default=None, type=click.Path(dir_okay=False), help=_PACK_HELP)
def import_cmd(file, pack) -> None:
    """Add the styles of pack FILE to the pack (same model only; same names are replaced)."""
    from edge.classify.packs import check_model, load_or_new, load_pack, save_pack

    incoming = load_pack(file)
    path = _pack_path(pack)
    target = load_or_new(path, incoming.model)
    check_model(incoming, target.model)
    for s in incoming.styles:
        target = target.with_style(s)
    save_pack(target, path)
    click.echo(f"imported {len(incoming.styles)} styles into {path} ({len(target.styles)} in all)")
