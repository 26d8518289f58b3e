"""Reading the data sources' files so that a damaged one is one line naming it, never a traceback.

Every loader in this package reads through these: only regular files are opened (a FIFO,
a device or a folder named like a data file is refused before opening, so nothing blocks),
gzip is decompressed with a size limit, JSON is parsed with its depth errors caught, and
numbers are checked to be numbers. The failures are :class:`edge.core.errors.UserError`
(a ``ValueError``) whose message reads ``PATH: problem; fix``.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from edge.core.errors import UserError
from edge.core.files import is_regular_file, read_regular_file, require_regular_file
from edge.sources.posefile import load_npy

__all__ = ["MAX_DECOMPRESSED", "is_regular_file", "read_text", "read_json", "numeric_array", "load_npy",
           "read_regular_file", "require_regular_file"]

#: Largest size a gzipped data file may expand to (the real ones are a few MB); a larger one
#: is refused rather than filling the memory (a "zip bomb" or a damaged length).
MAX_DECOMPRESSED = 512 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(path: Path, raw: bytes, what: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
            out = fh.read(MAX_DECOMPRESSED + 1)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(path, f"corrupt or truncated gzip data in this {what} ({detail})",
                        "re-create or re-download the file") from None
    if len(out) > MAX_DECOMPRESSED:
        raise UserError(path, f"decompresses to more than {MAX_DECOMPRESSED >> 20} MB, far more than a {what}",
                        "check that it is the file expected")
    return out


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of a regular file, gunzipped when it starts with the gzip magic bytes;
    UTF-8, else Latin-1 (every byte string decodes as Latin-1)."""
    path = Path(path)
    raw = read_regular_file(path, what)
    if raw[:2] == GZIP_MAGIC:
        raw = _gunzip(path, raw, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_json(path: str | Path, what: str = "JSON file", fix: str = "check that it is the file expected") -> Any:
    """The parsed JSON of a regular file (gzipped or not, by its magic bytes).

    One :class:`UserError` naming the file for anything unreadable: not found, not a
    regular file, corrupt or truncated gzip, not UTF-8, not JSON, nested too deeply.
    """
    path = Path(path)
    raw = read_regular_file(path, what)
    if raw[:2] == GZIP_MAGIC:
        raw = _gunzip(path, raw, what)
    try:
        return json.loads(raw)
    except RecursionError:
        raise UserError(path, f"not a readable {what} (JSON nested too deeply)", fix) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(path, f"not a readable {what} ({detail[:160]})", fix) from None


def numeric_array(value: Any, where: str | Path, name: str, fix: str = "") -> np.ndarray:
    """``value`` (parsed JSON) as a float64 array, refusing anything that is not a regular
    array of numbers (strings, nulls, objects, ragged lists, numbers beyond float64)."""
    try:
        arr = np.asarray(value)
        ok = arr.dtype.kind in "biuf"
        if ok:
            arr = arr.astype(np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        ok = False
    if not ok:
        raise UserError(where, f"{name} must be an array of numbers ({type(value).__name__} given, "
                               "or lists of unequal length or with non-numbers)", fix)
    return arr
