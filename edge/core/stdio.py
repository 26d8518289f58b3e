"""Native libraries' log lines, filtered at the file-descriptor level.

LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` from C++ straight
to file descriptor 2 whenever an interpreter is made, which ``-q`` cannot silence from
Python. :func:`drop_native_lines` runs a block with fd 2 captured and writes back every line
except the known noise, so real errors still reach the user.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

#: Lines that say nothing a user can act on.
NOISE = (re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),
         re.compile(r"^INFO: Initialized TensorFlow Lite runtime\.$"))


@contextlib.contextmanager
def drop_native_lines(patterns: tuple[re.Pattern, ...] = NOISE) -> Iterator[None]:
    """Run the block with fd 2 captured; afterwards write back the lines not in ``patterns``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # pragma: no cover - no fd 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and not any(p.match(line) for p in patterns)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
