"""``edgerec catalog``: build and inspect music catalogues (a device command; numpy + soundfile).

``edgerec catalog build MUSIC_DIR --out CATALOG.json`` scans a folder for audio, estimates
every song's tempo and writes the catalogue atomically. Styles come from ``--style TAG`` (all
songs) or, with ``--labels-from-dataset``, from Music-to-Dance folder names
``DANCE_<C|R|W|T>_<n>`` (:func:`edge.schema.music2dance_style`, shared with the training
loader). ``--from-package NAME``
builds from an installed music package instead (e.g. ``immich-memories-music``): its files
stay in the package, the catalogue refers to them, the licence comes from the package's
metadata and BPMs from its track list where it has one.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from importlib import metadata
from pathlib import Path

import click

from edge import recommend as rec
from edge.schema import music2dance_style
_BPM_LINE = re.compile(r"(\S+\.(?:opus|ogg|wav|flac|mp3))\s+(\d+(?:\.\d+)?)\s*bpm", re.I)


def dataset_style(path: Path) -> str | None:
    """The style of a song from the Music-to-Dance folder it sits in, else ``None``."""
    for part in reversed(path.parts[:-1]):
        style = music2dance_style(part)
        if style is not None:
            return style
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "song"


def _folder_jobs(music_dir: Path, out: Path, style: str | None, from_dataset: bool, licence: str, source: str):
    files = rec.find_audio_files(music_dir)
    base = os.path.abspath(out.parent)
    jobs = []
    for f in files:
        rel = Path(os.path.relpath(os.path.abspath(f), os.path.abspath(music_dir)))
        s = dataset_style(rel) if from_dataset else None
        # A generic file name (audio.opus in every Music-to-Dance clip) takes its folder's name.
        title = f.parent.name if f.stem.lower() in ("audio", "song", "music") and f.parent != music_dir else f.stem
        # Relative to the catalogue's folder; symlinks are kept, not resolved.
        rel_out = Path(os.path.relpath(os.path.abspath(f), base)).as_posix()
        jobs.append(dict(
            file=f, song_id=_slug(rel.with_suffix("").as_posix()), title=title, rel_path=rel_out,
            root=rec.ROOT_CATALOG, source=source, licence=licence, style=s or style,
        ))
    return jobs


def _package_jobs(dist_name: str, style: str | None):
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise click.ClickException(f"package {dist_name!r} is not installed; install it with: pip install {dist_name}")
    licence = dist.metadata.get("License-Expression") or dist.metadata.get("License") or "unknown"
    module = dist_name.replace("-", "_")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise click.ClickException(f"package {dist_name!r} has no importable module {module!r} ({exc})")
    pkg_dir = Path(mod.__file__).resolve().parent
    given: dict[str, float] = {}
    for f in dist.files or ():  # a track list with tempos (LICENSE-MUSIC in immich-memories-music)
        if f.suffix.lower() in ("", ".txt", ".md") or "LICENSE" in f.name.upper():
            try:
                for m in _BPM_LINE.finditer(f.read_text() or ""):
                    given[m.group(1)] = float(m.group(2))
            except (OSError, UnicodeDecodeError):
                pass
    jobs = []
    for f in rec.find_audio_files(pkg_dir):
        rel = f.relative_to(pkg_dir)
        jobs.append(dict(
            file=f, song_id=_slug(f"{dist_name}/{rel.with_suffix('').as_posix()}"), title=f.stem,
            rel_path=rel.as_posix(), root=rec.ROOT_PACKAGE_PREFIX + module, source=f"{dist_name} {dist.version}",
            licence=licence, style=style, mood=f.parent.name if f.parent != pkg_dir else None,
            bpm=given.get(f.name),
        ))
    return jobs


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
    if package:
        jobs = _package_jobs(package, style)
    else:
        jobs = _folder_jobs(music_dir, out, style, labels_from_dataset, licence, source or music_dir.resolve().name)
    if not jobs:
        raise click.ClickException(f"no audio files found in {music_dir or package}")
    skipped: list[str] = []
    cat = rec.build_catalog(jobs, show_progress=not no_progress, on_skip=skipped.append)
    for msg in skipped:
        click.echo(f"skipped: {msg}", err=True)
    try:
        rec.save_catalog(cat, out)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    styled = sum(s.style is not None for s in cat.songs)
    click.echo(f"wrote {out}: {len(cat)} songs ({styled} with a style, {len(skipped)} skipped)")


@catalog.command("info")
@click.argument("catalog_path", metavar="CATALOG", type=click.Path(path_type=Path))
def info(catalog_path: Path) -> None:
    """Print a table of the songs in CATALOG."""
    try:
        cat = rec.load_catalog(catalog_path)
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


# --------------------------------------------------------------------------------------
# The runtime's default catalogue: the shipped songs, plus the dataset's when present
# --------------------------------------------------------------------------------------

#: Licence note recorded for the Music-to-Dance songs (used locally, never redistributed).
DATASET_LICENCE = "Music-to-Dance (research use; see the data README)"


def dataset_catalog(music_dir: Path, show_progress: bool = True) -> rec.Catalog:
    """The Music-to-Dance songs with their styles, analysed once and cached.

    The cache key is the folder's path and every audio file's size and modification time,
    so a changed dataset is re-analysed. The cache lives in :func:`edge.paths.cache_dir`.
    """
    import hashlib

    from edge.paths import cache_dir

    files = rec.find_audio_files(music_dir)
    if not files:
        raise ValueError(f"{music_dir}: no audio files found")
    h = hashlib.sha256(str(music_dir.resolve()).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f}:{st.st_size}:{int(st.st_mtime)}".encode())
    out = cache_dir("catalogs") / f"music2dance-{h.hexdigest()[:16]}.json"
    if out.is_file():
        try:
            return rec.load_catalog(out)
        except ValueError:
            pass  # a damaged cache is rebuilt below
    out.parent.mkdir(parents=True, exist_ok=True)
    jobs = _folder_jobs(music_dir, out, None, True, DATASET_LICENCE, "music2dance")
    cat = rec.build_catalog(jobs, show_progress=show_progress)
    rec.save_catalog(cat, out)
    return rec.load_catalog(out)


def runtime_catalog(path: Path | None = None, with_dataset: bool = True,
                    show_progress: bool = True) -> rec.Catalog:
    """The catalogue ``edgerec run`` ranks: ``path`` if given, else the shipped catalogue
    merged with the Music-to-Dance songs when the shared data is there."""
    if path is not None:
        return rec.load_catalog(path)
    base = rec.load_default_catalog()
    if not with_dataset:
        return base
    from edge.paths import data_root
    from edge.runtime import merge_catalogs

    music = data_root() / "music2dance"
    if not music.is_dir():
        return base
    try:
        extra = dataset_catalog(music, show_progress)
    except (ValueError, OSError, ImportError):
        return base
    return merge_catalogs(base, extra)
