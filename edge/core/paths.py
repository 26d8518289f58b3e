"""Where edgerec looks for the shared data and keeps its caches (one place for both)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

#: Environment variable naming the data folder (the layout of ``../shared/data``).
DATA_ENV = "EDGEREC_DATA"
#: Environment variable naming the cache folder (pose models, dataset catalogues).
CACHE_ENV = "EDGEREC_CACHE"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_root(explicit: Optional[str | os.PathLike] = None) -> Path:
    """The data folder: ``explicit``, else ``$EDGEREC_DATA``, else ``../shared/data`` beside
    the project checkout (or beside the current folder, for an installed package)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    beside_project = PROJECT_ROOT.parent / "shared" / "data"
    if beside_project.is_dir():
        return beside_project
    beside_cwd = Path.cwd().parent / "shared" / "data"
    return beside_cwd if beside_cwd.is_dir() else beside_project


def cache_dir(*parts: str) -> Path:
    """``$EDGEREC_CACHE``, else ``$XDG_CACHE_HOME/edgerec`` or ``~/.cache/edgerec`` (joined with parts)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "edgerec"
    return base.joinpath(*parts)
