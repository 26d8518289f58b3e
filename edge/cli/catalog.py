"""``edgerec catalog``: build and inspect music catalogues (a device command; numpy + soundfile).

``edgerec catalog build MUSIC_DIR --out CATALOG.json`` scans a folder for audio, estimates
every song's tempo and writes the catalogue atomically. Styles come from ``--style TAG`` (all
songs) or, with ``--labels-from-dataset``, from Music-to-Dance folder names
``DANCE_<C|R|W|T>_<n>`` (:func:`edge.core.schema.music2dance_style`, shared with the training
loader). ``--from-package NAME`` builds from an installed music package instead (e.g.
``immich-memories-music``): its files stay in the package, the catalogue refers to them, the
licence comes from the package's metadata and BPMs from its track list where it has one. The work is done in
:mod:`edge.recommend.library`; this module only parses options and prints.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from edge.recommend import library
from edge.recommend.catalog import load_catalog, save_catalog


@click.group("catalog")
def catalog() -> None:
    """Build and inspect music catalogues for recommendations."""


@catalog.command("build")
@click.argument("music_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="catalogue JSON to write")
@click.option("--style", default=None, help="dance style of every song (a user tag)")
@click.option("--labels-from-dataset", is_flag=True, help="style from Music-to-Dance DANCE_<C|R|W|T>_n folder names")
@click.option("--from-package", "package", default=None, help="an installed music package, e.g. immich-memories-music")
@click.option("--licence", default="unknown", show_default=True, help="licence recorded for folder songs")
@click.option("--source", default=None, help="source recorded for folder songs (default: the folder name)")
@click.option("--no-progress", is_flag=True, help="no progress bar")
def build(music_dir, out, style, labels_from_dataset, package, licence, source, no_progress) -> None:
    """Scan MUSIC_DIR (recursively) for audio, estimate every song's BPM, write CATALOG.json."""
    if (music_dir is None) == (package is None):
        raise click.UsageError("give either MUSIC_DIR or --from-package NAME")
    try:
        if package:
            jobs = library.package_jobs(package, style)
        else:
            jobs = library.folder_jobs(music_dir, out, style, labels_from_dataset, licence,
                                       source or music_dir.resolve().name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not jobs:
        raise click.ClickException(f"no audio files found in {music_dir or package}")
    skipped: list[str] = []
    cat = library.build_catalog(jobs, show_progress=not no_progress, on_skip=skipped.append)
    for msg in skipped:
        click.echo(f"skipped: {msg}", err=True)
    try:
        save_catalog(cat, out)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    styled = sum(s.style is not None for s in cat.songs)
    click.echo(f"wrote {out}: {len(cat)} songs ({styled} with a style, {len(skipped)} skipped)")


@catalog.command("info")
@click.argument("catalog_path", metavar="CATALOG", type=click.Path(path_type=Path))
def info(catalog_path: Path) -> None:
    """Print a table of the songs in CATALOG."""
    try:
        cat = load_catalog(catalog_path)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    rows = [("id", "style", "mood", "bpm", "src", "conf", "dur s", "licence")]
    for s in cat.songs:
        bpm = f"{s.bpm:.1f}" if math.isfinite(s.bpm) else "-"
        rows.append((s.id, s.style or "-", s.mood or "-", bpm, s.bpm_source, f"{s.tempo_confidence:.2f}",
                     f"{s.duration:.1f}", s.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    click.echo(f"{len(cat)} songs in {catalog_path}")
