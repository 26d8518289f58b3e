"""What drives the stages: the streaming loop (``loop``), its landmark and probability
smoothing (``smoothing``), bounded-memory latency percentiles (``stats``), the overlay and
annotated video (``overlay``), one run from a set of options (``session``), and batch pose
extraction to landmark files (``extract``).

May import: every stage package (:mod:`edge.core`, :mod:`edge.sources`, :mod:`edge.pose`,
:mod:`edge.features`, :mod:`edge.classify`, :mod:`edge.recommend`), never :mod:`edge.cli`.
The names of the former ``edge.runtime`` module stay importable from here.
"""

from edge.classify.model import ModelError, StyleModel
from edge.recommend.catalog import merge_catalogs
from edge.runtime.loop import (
    STAGES,
    STATES,
    UPDATE_SCHEMA_VERSION,
    Runtime,
    RuntimeConfig,
    Update,
    recommendation_json,
)

__all__ = ["STAGES", "STATES", "UPDATE_SCHEMA_VERSION", "ModelError", "Runtime", "RuntimeConfig", "StyleModel",
           "Update", "merge_catalogs", "recommendation_json"]
