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
from pathlib import Path
from typing import Any, Mapping

from edge.core.assets import default_catalog_path
from edge.core.files import atomic_write_text

CATALOG_FORMAT = "edgerec-catalog"
CATALOG_VERSION = 1
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
