"""One place that imports optional, heavy libraries and says which extra provides them.

Heavy libraries (TensorFlow, librosa, soundfile, OpenCV, the runtimes) are imported inside
the function that needs them, through :func:`require`, so that importing ``edge`` stays
fast on a small device and a missing package fails with a message naming the fix.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependency(ImportError):
    """Raised when an optional package is not installed; the message names the extra."""


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming the extra to install.

    ``package`` is the pip distribution name when it differs from the module name.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised by the missing-package test
        dist = package or module.split(".")[0]
        raise MissingDependency(
            f"{module} is needed here but is not installed ({exc}); "
            f"install it with: pip install 'edgerec[{extra}]' (or pip install {dist})"
        ) from exc
