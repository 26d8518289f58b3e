"""Small helpers shared by the converters: quiet TensorFlow, atomic byte writes."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

from pathlib import Path
from typing import Iterator


class Captured:
    """Text written to stdout/stderr (Python and C++ level) inside :func:`captured_output`."""

    text: str = ""

    def last_error_line(self) -> str:
        lines = [l.strip() for l in self.text.splitlines() if l.strip()]
        for line in reversed(lines):
            if any(w in line for w in ("Error", "error:", "Exception")):
                return line
        return lines[-1] if lines else ""


@contextlib.contextmanager
def captured_output() -> Iterator[Captured]:
    """Silence TensorFlow/tf2onnx chatter (Python prints and C++ logs) and keep it for errors."""
    box = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = []
        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(tmp.fileno(), fd)
                except OSError:  # pragma: no cover - no such fd (embedded interpreters)
                    pass
            py = io.StringIO()
            with contextlib.redirect_stdout(py), contextlib.redirect_stderr(py):
                try:
                    yield box
                finally:
                    box.text = py.getvalue()
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            tmp.seek(0)
            box.text = tmp.read().decode("utf-8", "replace") + box.text


def temp_path_beside(out: Path) -> Path:
    """A fresh hidden temporary path in ``out``'s folder with ``out``'s suffix (stale ones of
    killed runs removed first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    from edge.core.files import temp_file

    return temp_file(out, keep_suffix=True)


