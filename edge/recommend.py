"""Music recommendations: a song catalogue, a dancer's movement tempo, and a ranking by style
fit and tempo fit, each recommendation explained in words.

**The paper's idea, adapted to songs.** Sharath M S et al. embed a dance with the
classifier's penultimate layer and rank songs by cosine similarity. That needs an embedding
of each *song* in the same space, which only exists for songs that come with a dance (the
mean embedding of that song's training windows), and those windows are not on the device.
So edgerec compares in the classifier's *output* space instead: each song carries a style
distribution (one-hot for a song whose style is known from its dataset or a user tag;
unknown style = uniform), and the style fit is the cosine similarity between the dancer's
calibrated style probabilities and the song's style vector. For a one-hot song this is
``p[style] / |p|``: near 1 when the dancer clearly dances that style. For a song of unknown
style it is ``1 / (sqrt(K) |p|)``: low for a confident dancer, high for a vague one, which is
the honest answer ("this song fits any style equally"). A song tagged with a style the model
does not know gets 0.

**Tempo.** Each song's BPM is estimated from its audio (:func:`edge.audio.estimate_tempo`)
or given by its metadata; the dancer's movement tempo is the periodicity of the summed joint
speed (:func:`movement_tempo`, the same estimator). Dancers often step at half or double the
beat, so the tempo fit is the best, over ratios 1/2, 1 and 2, of a Gaussian in log2 space
with :data:`TEMPO_SIGMA_OCTAVES` (0.1 octave, about 7 %): 5 % off gives 0.90, 10 % 0.63,
20 % 0.19.

**Score.** ``W_STYLE * style_fit + W_TEMPO * tempo_fit`` with weights 0.6 and 0.4: style is
what the user asked the system to recognise, tempo breaks ties between songs of the style and
rescues songs of unknown style that fit the movement. When the classifier is unsure, style
is ignored and songs are ranked by tempo alone; when a tempo is unknown, the score is the
style fit alone. The ``why`` string of every recommendation says which case applied.

The catalogue is JSON (no pickles), written atomically, validated on load. numpy only at
import time; ``soundfile`` is needed only to build a catalogue.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from edge.files import atomic_write_text

__all__ = [
    "CATALOG_FORMAT",
    "CATALOG_VERSION",
    "W_STYLE",
    "W_TEMPO",
    "TEMPO_SIGMA_OCTAVES",
    "Song",
    "Catalog",
    "Recommendation",
    "tempo_fit",
    "style_fit",
    "style_vector",
    "movement_tempo",
    "recommend",
    "load_catalog",
    "save_catalog",
    "analyse_song",
    "find_audio_files",
    "default_catalog_path",
    "load_default_catalog",
]

CATALOG_FORMAT = "edgerec-catalog"
CATALOG_VERSION = 1
#: Weight of the style fit in the score (documented in the module docstring).
W_STYLE = 0.6
#: Weight of the tempo fit in the score.
W_TEMPO = 0.4
#: Width of the tempo-fit Gaussian, in octaves (log2 units).
TEMPO_SIGMA_OCTAVES = 0.1
#: Ratios song-beat / movement that count as matching (half time, same, double time).
TEMPO_RATIOS = (0.5, 1.0, 2.0)
#: Seconds of each song analysed for tempo (libsndfile seeks, so long songs stay cheap).
TEMPO_SECONDS = 90.0
#: Sample rate for tempo analysis.
TEMPO_SR = 22050
#: File name suffixes tried as audio (anything libsndfile reads; unreadable files are skipped).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".au", ".caf", ".w64")
#: Where a song's relative ``path`` is resolved: the catalogue's folder, or an installed package.
ROOT_CATALOG = "catalog"
ROOT_PACKAGE_PREFIX = "package:"
DEFAULT_CATALOG_NAME = "default_catalog.json"


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Song:
    """One catalogue entry.

    ``style`` is a dance style (from the dataset or a user tag) or ``None`` when unknown;
    ``mood`` is free text from the source (e.g. a folder name). ``bpm`` is NaN when no tempo
    could be found; ``bpm_source`` says ``"audio"`` (estimated) or ``"metadata"`` (given).
    ``embedding`` maps style names to weights (the song's style distribution; empty = unknown,
    treated as uniform over the model's labels).
    """

    id: str
    title: str
    path: str
    root: str
    source: str
    licence: str
    style: str | None
    bpm: float
    bpm_source: str
    tempo_confidence: float
    duration: float
    embedding: Mapping[str, float] = field(default_factory=dict)
    mood: str | None = None

    def resolve(self, catalog_path: str | os.PathLike | None) -> Path:
        """The song's file: relative to the catalogue's folder or to an installed package."""
        if self.root.startswith(ROOT_PACKAGE_PREFIX):
            import importlib

            mod = importlib.import_module(self.root[len(ROOT_PACKAGE_PREFIX):])
            return Path(mod.__file__).resolve().parent / self.path
        base = Path(catalog_path).resolve().parent if catalog_path else Path.cwd()
        return base / self.path

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["embedding"] = dict(self.embedding)
        d["bpm"] = None if not math.isfinite(self.bpm) else round(float(self.bpm), 2)
        d["tempo_confidence"] = round(float(self.tempo_confidence), 4)
        d["duration"] = round(float(self.duration), 3)
        return d


@dataclass(frozen=True)
class Catalog:
    songs: tuple[Song, ...]
    path: str | None = None

    def __len__(self) -> int:
        return len(self.songs)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CATALOG_FORMAT,
            "version": CATALOG_VERSION,
            "embedding_space": "style-probabilities",
            "songs": [s.to_json() for s in self.songs],
        }


@dataclass(frozen=True)
class Recommendation:
    song: Song
    score: float
    style_fit: float | None
    tempo_fit: float | None
    why: str


# --------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------


def _tempo_match(song_bpm: float, movement_bpm: float, sigma: float) -> tuple[float, float]:
    """(fit, ratio) where ratio in TEMPO_RATIOS is the best song-beat / movement relation."""
    best = (0.0, 1.0)
    for r in TEMPO_RATIOS:
        d = math.log2(song_bpm / (r * movement_bpm))
        f = math.exp(-0.5 * (d / sigma) ** 2)
        if f > best[0] + 1e-12:
            best = (f, r)
    return best


def tempo_fit(song_bpm: float, movement_bpm: float, sigma: float = TEMPO_SIGMA_OCTAVES) -> float:
    """How well a song's tempo fits a movement tempo, in [0, 1]; NaN when either is unknown.

    The best over ratios 1/2, 1, 2 of ``exp(-0.5 (log2(song / (r * movement)) / sigma)^2)``:
    symmetric in its arguments, and half or double tempo counts as a match.
    """
    s, m = float(song_bpm), float(movement_bpm)
    if not (math.isfinite(s) and math.isfinite(m) and s > 0 and m > 0):
        return float("nan")
    return _tempo_match(s, m, sigma)[0]


def style_vector(song: Song, labels: Sequence[str]) -> np.ndarray:
    """The song's style distribution over ``labels``: its embedding, or uniform if unknown."""
    if not song.embedding:
        return np.full(len(labels), 1.0 / max(len(labels), 1))
    return np.array([float(song.embedding.get(l, 0.0)) for l in labels])


def style_fit(probs: np.ndarray, song: Song, labels: Sequence[str]) -> float:
    """Cosine similarity between the dancer's style probabilities and the song's style vector."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    if p.shape[0] != len(labels):
        raise ValueError(f"got {p.shape[0]} probabilities for {len(labels)} labels")
    v = style_vector(song, labels)
    n = float(np.linalg.norm(p) * np.linalg.norm(v))
    return 0.0 if n == 0 else float(np.clip(p @ v / n, 0.0, 1.0))


def movement_tempo(
    track_or_speed: Any,
    rate: float = 30.0,
    bpm_range: tuple[float, float] = (40.0, 200.0),
):
    """The dancer's movement tempo (steps per minute) as a :class:`edge.audio.TempoEstimate`.

    ``track_or_speed`` is an :class:`edge.features.Track` (times, xy, ok; the summed speed of
    the seen joints is computed at its own timestamps and interpolated to ``rate`` Hz) or a
    1-D speed envelope already sampled at ``rate`` Hz. The periodicity is found by
    :func:`edge.audio.estimate_periodicity_bpm`, the estimator used for the songs; an
    envelope too short for the slowest tempo gives ``bpm=nan, confidence=0``.
    """
    from edge.audio import TempoEstimate, estimate_periodicity_bpm

    if hasattr(track_or_speed, "xy") and hasattr(track_or_speed, "times"):
        t = np.asarray(track_or_speed.times, np.float64)
        xy = np.asarray(track_or_speed.xy, np.float64)
        ok = np.asarray(track_or_speed.ok, bool)
        if len(t) < 3:
            return TempoEstimate(bpm=float("nan"), confidence=0.0)
        dt = np.diff(t)
        dt[dt <= 0] = np.nan
        v = np.linalg.norm(np.diff(xy, axis=0), axis=-1) / dt[:, None]
        seen = ok[1:] & ok[:-1] & np.isfinite(v)
        speed = np.where(seen, v, 0.0).sum(axis=1)
        mid = 0.5 * (t[1:] + t[:-1])
        good = np.isfinite(mid) & np.isfinite(dt)
        if good.sum() < 3:
            return TempoEstimate(bpm=float("nan"), confidence=0.0)
        grid = np.arange(mid[good][0], mid[good][-1], 1.0 / rate)
        env = np.interp(grid, mid[good], speed[good])
    else:
        env = np.asarray(track_or_speed, np.float64).ravel()
        env = np.where(np.isfinite(env), env, 0.0)
    try:
        return estimate_periodicity_bpm(env, rate, bpm_range, start_bpm=100.0)
    except ValueError:
        return TempoEstimate(bpm=float("nan"), confidence=0.0)


# --------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------


def _relation(ratio: float) -> str:
    return {0.5: " (you move at double the beat)", 2.0: " (you move at half the beat)"}.get(ratio, "")


def recommend(
    probs: np.ndarray,
    movement_bpm: float,
    catalog: Catalog | Iterable[Song],
    k: int = 3,
    labels: Sequence[str] = (),
    *,
    unsure: bool = False,
    w_style: float = W_STYLE,
    w_tempo: float = W_TEMPO,
) -> list[Recommendation]:
    """The ``k`` best songs for a dancer, best first, each with a ``why``.

    ``probs`` are the calibrated style probabilities over ``labels``; ``movement_bpm`` the
    dancer's movement tempo (NaN if unknown); ``unsure`` the runtime's "unknown style" flag,
    under which the ranking uses tempo only. Ties keep catalogue order.
    """
    songs = list(catalog.songs if isinstance(catalog, Catalog) else catalog)
    labels = list(labels)
    if not labels:
        raise ValueError("recommend needs the model's labels (the card's 'labels')")
    p = np.asarray(probs, dtype=np.float64).ravel()
    top = int(np.argmax(p)) if p.size else 0
    mv = float(movement_bpm) if movement_bpm is not None else float("nan")
    tempo_known = math.isfinite(mv) and mv > 0
    out: list[Recommendation] = []
    for song in songs:
        sf_ = None if unsure else style_fit(p, song, labels)
        tf_, ratio = (None, 1.0)
        if tempo_known and math.isfinite(song.bpm) and song.bpm > 0:
            tf_, ratio = _tempo_match(song.bpm, mv, TEMPO_SIGMA_OCTAVES)

        parts = []
        if unsure:
            parts.append("style unsure, ranked by tempo only")
        elif song.style is None:
            parts.append(f"style unknown ({sf_:.0%} neutral fit to {labels[top]})")
        elif song.style in labels:
            parts.append(f"{song.style} {sf_:.0%} fit")
        else:
            parts.append(f"{song.style} is not a style the model knows (0% fit)")
        if tf_ is not None:
            parts.append(f"song {song.bpm:.0f} BPM vs your {mv:.0f} steps/min{_relation(ratio)}: tempo {tf_:.0%} fit")
        elif not math.isfinite(song.bpm) or song.bpm <= 0:
            parts.append("song tempo unknown")
        else:
            parts.append(f"song {song.bpm:.0f} BPM; your tempo is not known yet")

        if sf_ is not None and tf_ is not None:
            score = (w_style * sf_ + w_tempo * tf_) / (w_style + w_tempo)
        elif sf_ is not None:
            score = sf_
        elif tf_ is not None:
            score = tf_
        else:
            score = 0.0
            parts.append("no style or tempo to rank by")
        out.append(Recommendation(song, float(score), sf_, tf_, "; ".join(parts)))
    order = sorted(range(len(out)), key=lambda i: (-out[i].score, i))
    return [out[i] for i in order[: max(int(k), 0)]]


# --------------------------------------------------------------------------------------
# Catalogue files
# --------------------------------------------------------------------------------------


def save_catalog(catalog: Catalog, path: str | os.PathLike) -> Path:
    """Write the catalogue as JSON, atomically. Refuses an empty catalogue."""
    path = Path(path)
    if not catalog.songs:
        raise ValueError(f"{path}: refusing to write an empty catalogue (no readable audio found)")
    atomic_write_text(path, json.dumps(catalog.to_json(), indent=1, allow_nan=False) + "\n")
    return path


_FIX = "rebuild it with: edgerec catalog build MUSIC_DIR --out CATALOG.json"


def _song_from_json(d: Any, i: int) -> Song:
    if not isinstance(d, dict):
        raise TypeError(f"song {i} is not an object")
    bpm = d.get("bpm")
    emb = d.get("embedding") or {}
    if not isinstance(emb, dict):
        raise TypeError(f"song {i}: embedding must be an object of style weights")
    return Song(
        id=str(d["id"]),
        title=str(d["title"]),
        path=str(d["path"]),
        root=str(d.get("root", ROOT_CATALOG)),
        source=str(d.get("source", "")),
        licence=str(d.get("licence", "unknown")),
        style=None if d.get("style") is None else str(d["style"]),
        bpm=float("nan") if bpm is None else float(bpm),
        bpm_source=str(d.get("bpm_source", "audio")),
        tempo_confidence=float(d.get("tempo_confidence", 0.0)),
        duration=float(d.get("duration", 0.0)),
        embedding={str(k): float(v) for k, v in emb.items()},
        mood=None if d.get("mood") is None else str(d["mood"]),
    )


def load_catalog(path: str | os.PathLike) -> Catalog:
    """Read and validate a catalogue. A missing, empty or corrupt file raises a one-line
    ``ValueError`` naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: catalogue not found; {_FIX}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: not a readable catalogue ({reason}); {_FIX}") from None
    if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
        raise ValueError(f"{path}: not an edgerec catalogue (format != {CATALOG_FORMAT!r}); {_FIX}")
    if data.get("version") != CATALOG_VERSION:
        raise ValueError(f"{path}: catalogue version {data.get('version')!r}, expected {CATALOG_VERSION}; {_FIX}")
    raw = data.get("songs")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: the catalogue has no songs; {_FIX}")
    try:
        songs = tuple(_song_from_json(d, i) for i, d in enumerate(raw))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: corrupt catalogue entry ({type(exc).__name__}: {exc}); {_FIX}") from None
    return Catalog(songs=songs, path=str(path))


def default_catalog_path() -> Path:
    """The catalogue shipped in the package (the ``immich-memories-music`` tracks)."""
    return Path(__file__).resolve().parent / "assets" / DEFAULT_CATALOG_NAME


def load_default_catalog() -> Catalog:
    return load_catalog(default_catalog_path())


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


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
    from edge._optional import require
    from edge.audio import estimate_tempo, load_audio

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
