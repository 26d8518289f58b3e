"""Style and movement tempo in, songs out: the catalogue, its building, and the ranking.

``catalog``: the song entry and the JSON catalogue file. ``rank``: style fit, tempo fit and
the ranking with reasons. ``library``: song analysis and the catalogues a run uses (the
shipped songs plus the cached Music-to-Dance songs).

May import: :mod:`edge.core` and :mod:`edge.features` (tempo and log-mel). The names of the
former ``edge.recommend`` module stay importable from here.
"""

from edge.core.assets import DEFAULT_CATALOG_NAME, default_catalog_path
from edge.recommend.catalog import (
    CATALOG_FORMAT,
    CATALOG_VERSION,
    ROOT_CATALOG,
    ROOT_PACKAGE_PREFIX,
    Catalog,
    Song,
    load_catalog,
    load_default_catalog,
    merge_catalogs,
    save_catalog,
)
from edge.recommend.library import (
    AUDIO_SUFFIXES,
    TEMPO_SECONDS,
    TEMPO_SR,
    analyse_song,
    build_catalog,
    find_audio_files,
    progress,
)
from edge.recommend.rank import (
    TEMPO_RATIOS,
    TEMPO_SIGMA_OCTAVES,
    W_STYLE,
    W_TEMPO,
    Recommendation,
    movement_tempo,
    recommend,
    style_fit,
    style_vector,
    tempo_fit,
)

__all__ = [
    "CATALOG_FORMAT", "CATALOG_VERSION", "W_STYLE", "W_TEMPO", "TEMPO_SIGMA_OCTAVES", "TEMPO_RATIOS",
    "TEMPO_SECONDS", "TEMPO_SR", "AUDIO_SUFFIXES", "ROOT_CATALOG", "ROOT_PACKAGE_PREFIX", "DEFAULT_CATALOG_NAME",
    "Song", "Catalog", "Recommendation", "tempo_fit", "style_fit", "style_vector", "movement_tempo", "recommend",
    "load_catalog", "save_catalog", "merge_catalogs", "analyse_song", "build_catalog", "find_audio_files",
    "progress", "default_catalog_path", "load_default_catalog",
]
