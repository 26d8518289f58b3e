"""Writing files so a reader never sees half of one: temporary file, fsync, rename.

Used by every artefact edgerec writes (model cards, models, catalogues, reports, videos).
Lives in ``edge`` because the device writes catalogues and videos too; the packages above
import it from here.

Temporary files are named ``.NAME.edgerec-PID-XXXX.tmp[.ext]`` next to their target. A run
killed by SIGKILL or a power cut leaves one behind; the next write to the same target
removes those whose process is gone (:func:`remove_stale_temps`), so they do not pile up.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from edge.core.errors import UserError

_TEMP_TAG = "edgerec"


def readable_by_all(path: str | Path) -> None:
    """Give a ``mkstemp`` file (created 0600) the permissions a normal file would get: 0666
    less the umask, so ``umask 077`` still means private."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temporary files of ``path`` left by edgerec processes that no longer run."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.{_TEMP_TAG}-(\d+)-[^/]*\.tmp(\.[^./]+)?$")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m and entry.is_file(follow_symlinks=False) and not _pid_alive(int(m.group(1))):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def temp_file(path: str | Path, keep_suffix: bool = False) -> Path:
    """A new, empty temporary file beside ``path`` (readable as a normal file would be).

    ``keep_suffix`` ends the name with ``path``'s suffix, for writers that pick the format
    from it (OpenCV's video writer). Stale temporaries of ``path`` are removed first.
    """
    path = Path(path)
    remove_stale_temps(path)
    suffix = ".tmp" + (path.suffix if keep_suffix else "")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_TEMP_TAG}-{os.getpid()}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    readable_by_all(tmp)
    return Path(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync, check its size, then
    rename it into place. On any failure (a full disk included) nothing is left at ``path``
    that was not there before, and the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.getsize(tmp) != len(data):  # pragma: no cover - a short write the OS did not report
            raise OSError(28, "short write (no space left?)", str(path))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None or str(exc.filename) == str(tmp):
            exc.filename = str(path)  # name the file the user asked for, not our temporary
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


# ------------------------------------------------------------------ reading users' files
# Every reader of a user's file goes through these: the path must be a regular file (checked
# with os.stat *before* opening, so a FIFO never blocks and /dev/zero is never read), and
# every failure is one UserError naming the file.


def _not_regular(path: str | Path, mode: int, what: str, fix: str = "") -> UserError:
    if stat.S_ISDIR(mode):
        return UserError(path, f"is a folder, not the {what}", fix or f"give the path of the {what}")
    kind = next((name for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                                         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
                 if test(mode)), "a special file")
    return UserError(path, f"not a regular file (it is {kind})", fix or f"give the path of the {what}")


def require_regular_file(path: str | Path, what: str = "file", fix: str = "") -> os.stat_result:
    """``os.stat(path)``, refusing anything but a regular file (folders, FIFOs, devices,
    sockets) with a :class:`UserError` naming it; nothing is opened. ``fix`` replaces the
    default advice."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(path, f"{what} not found", fix or "check the path") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise UserError(path, f"cannot read this {what} ({reason})",
                        fix or "check the path and its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode, what, fix)
    return st


def read_regular_file(path: str | Path, what: str = "file", fix: str = "") -> bytes:
    """All bytes of ``path``, which must be a regular file (:func:`require_regular_file`).

    Opened non-blocking and checked again on the open descriptor, so a file swapped for a
    FIFO between the check and the open cannot hang the reader either.
    """
    require_regular_file(path, what, fix)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(path, mode, what, fix)
            return fh.read()
    except OSError as exc:
        raise UserError(path, f"cannot read this {what} ({exc.strerror or exc})",
                        fix or "check the path and its permissions") from None


def is_regular_file(path: str | Path) -> bool:
    """True only for a regular file (not a folder, FIFO, device or socket); never opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
