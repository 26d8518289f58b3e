"""JSON that strict parsers accept: no ``NaN``, ``Infinity`` or ``-Infinity``, ever.

Python's ``json`` writes non-finite floats as bare ``NaN`` by default, which JavaScript,
``jq`` and most other parsers refuse. Everything edgerec writes or prints as JSON goes
through :func:`dumps`, which turns non-finite numbers into ``null`` (a missing value, which
is what they mean here) and then encodes with ``allow_nan=False`` as a guarantee.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (also numpy scalars and arrays) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite(obj.tolist())
    if isinstance(obj, np.floating):
        return finite(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity (they become ``null``)."""
    kwargs.pop("allow_nan", None)  # always False
    return json.dumps(finite(obj), allow_nan=False, **kwargs)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: str | bytes) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity`` (``ValueError``),
    as strict parsers do: what :func:`dumps` never writes is never read either."""
    return json.loads(data, parse_constant=_reject_constant)
