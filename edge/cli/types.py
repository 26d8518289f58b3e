"""Option types that refuse what would hang or overflow a run, at the command line.

``click.FloatRange`` lets ``nan``, ``inf`` and ``1e-300`` through (every comparison with NaN
is false), and a frame rate of 1e-300 or a hop of 1e-9 s never finishes. These types say
the accepted range in the error instead.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import click


class Finite(click.ParamType):
    """A finite float in ``[lo, hi]``."""

    name = "float"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x) or not self.lo <= x <= self.hi:
            self.fail(f"{value!r} is not between {self.lo:g} and {self.hi:g}", param, ctx)
        return x


def count(lo: int, hi: int) -> click.IntRange:
    """An integer in ``[lo, hi]``."""
    return click.IntRange(min=lo, max=hi)


#: Frame rates a landmark file or a video may claim.
FPS = Finite(1.0, 1000.0)
#: Seconds between style updates.
HOP = Finite(0.05, 60.0)
#: Seconds of input to process.
DURATION = Finite(0.001, 1e7)
#: Largest image side ``--size`` accepts (pixels).
MAX_SIDE = 16384
