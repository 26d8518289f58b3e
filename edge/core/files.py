"""Writing files so a reader never sees half of one: temporary file, fsync, rename.

Used by every artefact edgerec writes (model cards, models, catalogues, reports). Lives in
``edge`` because the device writes catalogues too; the packages above import it from here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def readable_by_all(path: str | Path) -> None:
    """Give a ``mkstemp`` file (created 0600) the permissions a normal file would get."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    readable_by_all(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))
