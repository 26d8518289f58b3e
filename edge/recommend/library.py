"""Building catalogues: song analysis (duration, tempo) and the catalogue a run ranks.

``edgerec catalog build`` and the run-time catalogue (the shipped songs plus the cached
Music-to-Dance songs when the shared data is there) both come through here; the click code
in :mod:`edge.cli.catalog` only parses options. Needs ``soundfile`` (the ``edge`` extra)
to read audio.
"""

from __future__ import annotations

import math
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from edge.core.schema import music2dance_style
from edge.recommend.catalog import (LOG_MEL_FEATURE, ROOT_CATALOG, ROOT_PACKAGE_PREFIX, Catalog, Song, load_catalog,
                                    load_default_catalog, merge_catalogs, package_folder, save_catalog)

#: Seconds of each song analysed for tempo (libsndfile seeks, so long songs stay cheap).
TEMPO_SECONDS = 90.0
#: Sample rate for tempo analysis.
TEMPO_SR = 22050
#: File name suffixes tried as audio (anything libsndfile reads; unreadable files are skipped).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".au", ".caf", ".w64")


def find_audio_files(root: str | os.PathLike) -> list[Path]:
    """Audio files under ``root`` (recursively, sorted), by suffix; unreadable ones are
    skipped later by :func:`analyse_song`."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder of audio files")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def analyse_song(
    path: str | os.PathLike,
    *,
    song_id: str,
    title: str,
    rel_path: str,
    root: str = ROOT_CATALOG,
    source: str = "user",
    licence: str = "unknown",
    style: str | None = None,
    mood: str | None = None,
    bpm: float | None = None,
) -> Song:
    """Read one song and make its catalogue entry: duration from the file header, tempo
    estimated from the first :data:`TEMPO_SECONDS` s (also when ``bpm`` is given, whose value
    then wins, so the confidence is always the estimator's). Raises ``ValueError`` (one line)
    for an unreadable file."""
    from edge.core.optional import require
    from edge.features.audio import estimate_tempo, load_audio, mean_log_mel

    sf = require("soundfile", "edge")
    try:
        info = sf.info(os.fspath(path))
    except (RuntimeError, OSError) as exc:
        raise ValueError(f"cannot read audio file {os.fspath(path)!r}: {str(exc).splitlines()[0]}") from None
    audio = load_audio(path, TEMPO_SR, duration=TEMPO_SECONDS)
    try:
        est = estimate_tempo(audio.samples, audio.sample_rate)
        est_bpm, conf = float(est.bpm), float(est.confidence)
    except ValueError:  # too short for a tempo
        est_bpm, conf = float("nan"), 0.0
    log_mel = mean_log_mel(audio.samples, audio.sample_rate) if len(audio.samples) else ()
    given = bpm is not None and math.isfinite(float(bpm))
    return Song(
        id=song_id,
        title=title,
        path=rel_path,
        root=root,
        source=source,
        licence=licence,
        style=style,
        bpm=float(bpm) if given else est_bpm,
        bpm_source="metadata" if given else "audio",
        tempo_confidence=conf if math.isfinite(conf) else 0.0,
        duration=float(info.frames) / float(info.samplerate) if info.samplerate else 0.0,
        embedding={style: 1.0} if style else {},
        mood=mood,
        log_mel=tuple(float(v) for v in log_mel),
    )


def progress(items: Sequence, desc: str) -> Iterable:
    """tqdm when installed, else a plain ``i/n`` line per item on stderr."""
    try:
        from tqdm import tqdm  # optional

        return tqdm(items, desc=desc, unit="song")
    except ImportError:
        import sys

        def plain():
            n = len(items)
            for i, x in enumerate(items, 1):
                print(f"{desc}: {i}/{n}", file=sys.stderr, flush=True)
                yield x

        return plain()


def build_catalog(
    jobs: Sequence[dict[str, Any]],
    *,
    show_progress: bool = True,
    on_skip: Callable[[str], None] | None = None,
) -> Catalog:
    """Analyse each job (keyword arguments of :func:`analyse_song`, plus ``file``) into a
    catalogue; unreadable files are skipped and reported through ``on_skip``."""
    songs = []
    seen: set[str] = set()
    it = progress(jobs, "analysing songs") if show_progress else jobs
    for job in it:
        job = dict(job)
        file = job.pop("file")
        base, n = job["song_id"], 2
        while job["song_id"] in seen:
            job["song_id"], n = f"{base}-{n}", n + 1
        try:
            song = analyse_song(file, **job)
        except ValueError as exc:
            if on_skip:
                on_skip(str(exc))
            continue
        seen.add(song.id)
        songs.append(song)
    return Catalog(songs=tuple(songs))


# --------------------------------------------------------------------------------------
# Jobs for build_catalog: a folder of audio, or an installed music package
# --------------------------------------------------------------------------------------

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


def folder_jobs(music_dir: Path, out: Path, style: str | None, from_dataset: bool, licence: str,
                source: str) -> list[dict[str, Any]]:
    """One :func:`analyse_song` job per audio file under ``music_dir``, paths relative to ``out``'s folder."""
    files = find_audio_files(music_dir)
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
            root=ROOT_CATALOG, source=source, licence=licence, style=s or style,
        ))
    return jobs


def package_jobs(dist_name: str, style: str | None) -> list[dict[str, Any]]:
    """One :func:`analyse_song` job per audio file of an installed music package (its files stay
    there); BPMs from the package's track list where it has one."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ValueError(f"package {dist_name!r} is not installed; install it with: pip install {dist_name}") from None
    licence = dist.metadata.get("License-Expression") or dist.metadata.get("License") or "unknown"
    module = dist_name.replace("-", "_")
    pkg_dir = package_folder(module).resolve()  # found, not imported: the songs' folder is all we need
    given: dict[str, float] = {}
    for f in dist.files or ():  # a track list with tempos (LICENSE-MUSIC in immich-memories-music)
        if f.suffix.lower() in ("", ".txt", ".md") or "LICENSE" in f.name.upper():
            try:
                for m in _BPM_LINE.finditer(f.read_text() or ""):
                    given[m.group(1)] = float(m.group(2))
            except (OSError, UnicodeDecodeError):
                pass
    jobs = []
    for f in find_audio_files(pkg_dir):
        rel = f.relative_to(pkg_dir)
        jobs.append(dict(
            file=f, song_id=_slug(f"{dist_name}/{rel.with_suffix('').as_posix()}"), title=f.stem,
            rel_path=rel.as_posix(), root=ROOT_PACKAGE_PREFIX + module, source=f"{dist_name} {dist.version}",
            licence=licence, style=style, mood=f.parent.name if f.parent != pkg_dir else None,
            bpm=given.get(f.name),
        ))
    return jobs


# --------------------------------------------------------------------------------------
# The runtime's default catalogue: the shipped songs, plus the dataset's when present
# --------------------------------------------------------------------------------------

#: Licence note recorded for the Music-to-Dance songs (used locally, never redistributed).
DATASET_LICENCE = "Music-to-Dance (research use; see the data README)"


def dataset_catalog(music_dir: Path, show_progress: bool = True) -> Catalog:
    """The Music-to-Dance songs with their styles, analysed once and cached.

    The cache key is the folder's path and every audio file's size and modification time,
    so a changed dataset is re-analysed. The cache lives in :func:`edge.core.paths.cache_dir`.
    """
    import hashlib

    from edge.core.paths import cache_dir

    files = find_audio_files(music_dir)
    if not files:
        raise ValueError(f"{music_dir}: no audio files found")
    h = hashlib.sha256(f"{music_dir.resolve()}|{LOG_MEL_FEATURE}".encode())  # a new song field rebuilds
    for f in files:
        st = f.stat()
        h.update(f"{f}:{st.st_size}:{int(st.st_mtime)}".encode())
    out = cache_dir("catalogs") / f"music2dance-{h.hexdigest()[:16]}.json"
    if out.is_file():
        try:
            return load_catalog(out)
        except ValueError:
            pass  # a damaged cache is rebuilt below
    out.parent.mkdir(parents=True, exist_ok=True)
    jobs = folder_jobs(music_dir, out, None, True, DATASET_LICENCE, "music2dance")
    cat = build_catalog(jobs, show_progress=show_progress)
    save_catalog(cat, out)
    return load_catalog(out)


def runtime_catalog(path: Path | None = None, with_dataset: bool = True,
                    show_progress: bool = True) -> Catalog:
    """The catalogue ``edgerec run`` ranks: ``path`` if given, else the shipped catalogue
    merged with the Music-to-Dance songs when the shared data is there."""
    if path is not None:
        return load_catalog(path)
    base = load_default_catalog()
    if not with_dataset:
        return base
    from edge.core.paths import data_root

    music = data_root() / "music2dance"
    if not music.is_dir():
        return base
    try:
        extra = dataset_catalog(music, show_progress)
    except (ValueError, OSError, ImportError):
        return base
    return merge_catalogs(base, extra)
