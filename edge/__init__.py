"""edgerec's device runtime, laid out as the pipeline it runs:

``sources`` (frames) -> ``pose`` (33 landmarks) -> ``features`` (windows) -> ``classify``
(style, or "unsure") -> ``recommend`` (songs); ``runtime`` drives the stages, ``cli`` is
every device command's click code, and ``core`` holds what they all share. Each package's
docstring says what it owns and what it may import; ``tests/test_layering.py`` enforces it.

This package imports only numpy at import time; everything heavier is loaded lazily
through :func:`edge.core.optional.require`. It never imports TensorFlow.

The flat module names of 0.1 (``edge.schema``, ``edge.backends``, ``edge.run_cli``, ...)
still import, with a ``DeprecationWarning``, for one release (:data:`MOVED`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

__version__ = "0.1.0"

#: Old module -> where it lives now. Submodules follow their package (``edge.backends.ort``
#: -> ``edge.classify.backends.ort``). Removed in 0.3.
MOVED: dict[str, str] = {
    "edge._optional": "edge.core.optional",
    "edge.schema": "edge.core.schema",
    "edge.files": "edge.core.files",
    "edge.paths": "edge.core.paths",
    "edge.assets": "edge.core.assets",
    "edge.posefile": "edge.sources.posefile",
    "edge.audio": "edge.features.audio",
    "edge.backends": "edge.classify.backends",
    "edge.formats": "edge.classify.formats",
    "edge.metadata": "edge.classify.metadata",
    "edge.calibration": "edge.classify.calibration",
    "edge.smoothing": "edge.runtime.smoothing",
    "edge.annotate": "edge.runtime.overlay",
    "edge.extract": "edge.runtime.extract",
    "edge.clitools": "edge.cli.lazy",
    "edge.run_cli": "edge.cli.run",
    "edge.catalog_cli": "edge.cli.catalog",
}


def _new_name(name: str) -> str | None:
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import edge.schema`` give the module ``edge.core.schema`` itself (one module
    object under two names, so classes and monkeypatches stay shared), with a warning."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D401 (importlib protocol)
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=False)

    def create_module(self, spec):
        new = _new_name(spec.name)
        warnings.warn(f"{spec.name} moved to {new}; the old name goes in edgerec 0.3",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module) -> None:
        pass  # already executed under its new name


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())  # before the path finder: a stale folder cannot shadow it
