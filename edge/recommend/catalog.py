"""The song catalogue: what a song entry holds, and the catalogue file.

The catalogue is JSON (no pickles), written atomically and validated on load, so a damaged
file is a one-line error naming the fix rather than a half-read list. Songs resolve their
audio relative to the catalogue's folder or inside an installed music package.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Mapping, Sequence

from edge.core import jsonio
from edge.core.assets import default_catalog_path
from edge.core.errors import UserError
from edge.core.files import atomic_write_text, read_regular_file

CATALOG_FORMAT = "edgerec-catalog"
CATALOG_VERSION = 1
#: How every song's ``log_mel`` is computed (:func:`edge.features.audio.mean_log_mel` on the
#: first 90 s at 22,050 Hz; the live analyser, :class:`edge.features.beat.MusicSpec`, uses
#: the same STFT and mel bands). Catalogues without the key are still read (version 1).
LOG_MEL_FEATURE = {"feature": "mean-log-mel", "sample_rate": 22050, "n_fft": 2048, "hop_length": 512,
                   "n_mels": 128, "seconds": 90.0}
#: Where a song's relative ``path`` is resolved: the catalogue's folder, or an installed package.
ROOT_CATALOG = "catalog"
ROOT_PACKAGE_PREFIX = "package:"


@dataclass(frozen=True)
class Song:
    """One catalogue entry.

    ``style`` is a dance style (from the dataset or a user tag) or ``None`` when unknown;
    ``mood`` is free text from the source (e.g. a folder name). ``bpm`` is NaN when no tempo
    could be found; ``bpm_source`` says ``"audio"`` (estimated) or ``"metadata"`` (given).
    ``embedding`` maps style names to weights (the song's style distribution; empty = unknown,
    treated as uniform over the model's labels). ``log_mel`` is the paper's audio feature of
    the song, its mean log-mel spectrum (128 dB values, :data:`LOG_MEL_FEATURE`; empty when
    the catalogue predates it), which "more like this" compares with the music playing.
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
    log_mel: tuple[float, ...] = ()

    def resolve(self, catalog_path: str | os.PathLike | None) -> Path:
        """The song's file: relative to the catalogue's folder or to an installed package.

        A ``package:NAME`` root is looked up without importing anything (a catalogue must not
        be able to run code), and the song must lie inside that package's folder. A
        ``catalog`` root is relative to the catalogue's folder and may leave it (a catalogue
        written with ``--out`` elsewhere points at ``../music``). :class:`UserError` otherwise.
        """
        if self.root.startswith(ROOT_PACKAGE_PREFIX):
            folder = package_folder(self.root[len(ROOT_PACKAGE_PREFIX):], self.id)
            _check_inside(self.path, self.id)
            target = folder / self.path
            try:
                inside = target.resolve().is_relative_to(folder.resolve())
            except (OSError, RuntimeError, ValueError):
                inside = False
            if not inside:
                raise UserError(f"song {self.id!r}", f"its path {self.path!r} leads outside the package folder {folder}",
                                "catalogue songs of a package root must lie inside the package")
            return target
        base = Path(catalog_path).resolve().parent if catalog_path else Path.cwd()
        return base / self.path

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["embedding"] = dict(self.embedding)
        d["bpm"] = None if not math.isfinite(self.bpm) else round(float(self.bpm), 2)
        d["tempo_confidence"] = round(float(self.tempo_confidence), 4)
        d["duration"] = round(float(self.duration), 3)
        d["log_mel"] = [round(float(v), 2) for v in self.log_mel]
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
            "log_mel": LOG_MEL_FEATURE,
            "songs": [s.to_json() for s in self.songs],
        }


def save_catalog(catalog: Catalog, path: str | os.PathLike) -> Path:
    """Write the catalogue as JSON, atomically. Refuses an empty catalogue."""
    path = Path(path)
    if not catalog.songs:
        raise ValueError(f"{path}: refusing to write an empty catalogue (no readable audio found)")
    atomic_write_text(path, jsonio.dumps(catalog.to_json(), indent=1) + "\n")
    return path


_FIX = "rebuild it with: edgerec catalog build MUSIC_DIR --out CATALOG.json"


def package_folder(name: str, song: str = "") -> Path:
    """The folder of the installed top-level package ``name``, found with
    :func:`importlib.util.find_spec` and never imported (so a catalogue cannot run code)."""
    import importlib.util
    import keyword

    who = f"song {song!r}" if song else f"{ROOT_PACKAGE_PREFIX}{name}"
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UserError(who, f"root {ROOT_PACKAGE_PREFIX}{name!r} is not a top-level package name", _FIX)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise UserError(who, f"cannot find the package {name!r} ({exc})", f"install it, or {_FIX}") from None
    if spec is None:
        raise UserError(who, f"the package {name!r} is not installed", f"install it (pip install {name}), or {_FIX}")
    # a package's folder; a single-file module has none of its own (its parent would be all
    # of site-packages), nor has a built-in one
    locations = [p for p in (spec.submodule_search_locations or []) if p]
    if locations:
        return Path(locations[0])
    raise UserError(who, f"{name!r} is not a package with a folder on disk to hold songs", _FIX)


def _check_inside(path: str, song: str) -> None:
    """Refuse a package song path that is absolute or climbs out with ``..`` (either style)."""
    for pure in (PurePosixPath(path), PureWindowsPath(path)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            raise UserError(f"song {song!r}", f"its path {path!r} leads outside the package folder",
                            "catalogue songs of a package root must lie inside the package")


def _text(d: dict, key: str, i: int, default: Any = None) -> Any:
    v = d.get(key, default)
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    raise TypeError(f"song {i}: {key} must be text, got {type(v).__name__}")


def _number(d: dict, key: str, i: int, default: float, allow_nan: bool = False) -> float:
    v = d.get(key, default)
    if v is None and allow_nan:
        return float("nan")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"song {i}: {key} must be a number, got {type(v).__name__}")
    x = float(v)  # OverflowError for a huge int is caught by the caller
    if math.isinf(x) or (math.isnan(x) and not allow_nan):
        raise ValueError(f"song {i}: {key} must be finite, got {v!r}")
    return x


def _song_from_json(d: Any, i: int) -> Song:
    if not isinstance(d, dict):
        raise TypeError(f"song {i} is not an object")
    emb = d.get("embedding") or {}
    if not isinstance(emb, dict):
        raise TypeError(f"song {i}: embedding must be an object of style weights")
    for key in ("id", "title", "path"):
        if d.get(key) is None:
            raise KeyError(f"song {i} has no {key!r}")
    root = _text(d, "root", i, ROOT_CATALOG)
    path = _text(d, "path", i)
    if not path:
        raise ValueError(f"song {i}: empty path")
    if root != ROOT_CATALOG:
        name = root[len(ROOT_PACKAGE_PREFIX):] if root.startswith(ROOT_PACKAGE_PREFIX) else None
        if not name or not name.isidentifier():
            raise ValueError(f"song {i}: root must be {ROOT_CATALOG!r} or '{ROOT_PACKAGE_PREFIX}NAME', got {root!r}")
        _check_inside(path, _text(d, "id", i))
    weights = {}
    for k, v in emb.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ValueError(f"song {i}: embedding weight {k!r} must be a finite number")
        weights[str(k)] = float(v)
    lm = d.get("log_mel") or []
    if not isinstance(lm, list) or (lm and len(lm) != LOG_MEL_FEATURE["n_mels"]):
        raise ValueError(f"song {i}: log_mel must be a list of {LOG_MEL_FEATURE['n_mels']} numbers")
    for v in lm:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ValueError(f"song {i}: log_mel values must be finite numbers")
    return Song(
        id=_text(d, "id", i),
        title=_text(d, "title", i),
        path=path,
        root=root,
        source=_text(d, "source", i, "") or "",
        licence=_text(d, "licence", i, "unknown") or "unknown",
        style=_text(d, "style", i),
        bpm=_number(d, "bpm", i, None, allow_nan=True),  # type: ignore[arg-type]
        bpm_source=_text(d, "bpm_source", i, "audio") or "audio",
        tempo_confidence=_number(d, "tempo_confidence", i, 0.0),
        duration=_number(d, "duration", i, 0.0),
        embedding=weights,
        mood=_text(d, "mood", i),
        log_mel=tuple(float(v) for v in lm),
    )


def load_catalog(path: str | os.PathLike) -> Catalog:
    """Read and validate a catalogue. A missing, empty or corrupt file raises a one-line
    ``ValueError`` naming the file and the fix."""
    path = Path(path)
    raw_bytes = read_regular_file(path, "catalogue", _FIX)  # a FIFO would block, /dev/zero never end
    try:
        data = json.loads(raw_bytes)
    except RecursionError:
        raise ValueError(f"{path}: not a readable catalogue (nested too deeply); {_FIX}") from None
    except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
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
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        detail = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        raise ValueError(f"{path}: corrupt catalogue entry ({type(exc).__name__}: {detail}); {_FIX}") from None
    return Catalog(songs=songs, path=str(path))


def load_default_catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def merge_catalogs(*catalogs: Catalog) -> Catalog:
    """One catalogue from several; each song's path made absolute so it still resolves."""
    songs = []
    seen: set[str] = set()
    for cat in catalogs:
        for s in cat.songs:
            if s.id in seen:
                continue
            seen.add(s.id)
            if s.root == "catalog" and cat.path:
                s = replace(s, path=str(s.resolve(cat.path)))
            songs.append(s)
    return Catalog(songs=tuple(songs), path=catalogs[0].path if catalogs else None)


def with_style_links(catalog: Catalog, links: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> Catalog:
    """``catalog`` with user styles linked to its music: for each ``(style, tags, song_ids)``,
    a song whose style (or a style it has weight for) is one of ``tags``, or whose id is in
    ``song_ids``, also counts as ``style``, so recommendations follow a taught style."""
    songs = []
    for song in catalog.songs:
        own = ({song.style.lower()} if song.style else set()) | {k.lower() for k, w in song.embedding.items() if w > 0}
        extra = {style: 1.0 for style, tags, ids in links
                 if song.id in ids or own & {t.lower() for t in tags}}
        songs.append(replace(song, embedding={**song.embedding, **extra}) if extra else song)
    return Catalog(songs=tuple(songs), path=catalog.path)
