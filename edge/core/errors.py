"""Failures a user can fix, said in one line: ``WHAT: problem; fix``.

Code that knows what went wrong raises :class:`UserError` (or a ``ValueError`` whose message
already reads ``PATH: problem; fix``). The command line's one error boundary
(:mod:`edge.cli`) passes every exception through :func:`describe`: an expected failure
becomes ``Error: WHAT: problem; fix`` and exit status 1; anything else is a bug, reported as
such with exit status :data:`BUG_EXIT` (``--debug`` shows the full traceback).
"""

from __future__ import annotations

import errno
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

#: Exit status for a bug (EX_SOFTWARE), so scripts and tests can tell it from a user error.
BUG_EXIT = 70


class Expected(Exception):
    """Mixin for a package's own exception classes whose message already is the one line
    ``WHAT: problem; fix`` (e.g. :class:`edge.sources.frames.SourceError`)."""


class UserError(ValueError):
    """An expected failure: ``what`` failed (usually a path), ``problem`` says how, ``fix``
    what to do. A ``ValueError``, so callers that catch those keep working."""

    def __init__(self, what: str | Path, problem: str, fix: str = "") -> None:
        self.what, self.problem, self.fix = str(what), problem, fix
        super().__init__(f"{self.what}: {problem}" + (f"; {fix}" if fix else ""))


_OS_PROBLEMS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free some space or write to another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or write to another disk"),
    errno.EROFS: ("the file system is read-only", "write to a folder you can write to"),
    errno.EACCES: ("permission denied", "check its permissions or choose another path"),
    errno.EPERM: ("operation not permitted", "check its permissions or choose another path"),
    errno.EISDIR: ("is a folder, not a file", "give the path of a file"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.ENOENT: ("not found", "check the path"),
    errno.ELOOP: ("too many levels of symbolic links (a link loop?)", "fix or remove the link"),
    errno.ENAMETOOLONG: ("the path is too long", "use a shorter path"),
    errno.ENXIO: ("no such device", "check the path"),
    errno.EIO: ("input/output error", "check the disk or the device"),
}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def describe(exc: BaseException) -> Optional[str]:
    """The one-line ``WHAT: problem; fix`` for an expected failure, or ``None`` for a bug."""
    from edge.core.optional import MissingDependency

    if isinstance(exc, (UserError, MissingDependency, Expected)):
        return _first_line(str(exc))
    if isinstance(exc, UnicodeDecodeError):
        return f"the input is not UTF-8 text ({exc.reason} at byte {exc.start}); check that it is the file expected"
    if isinstance(exc, (zlib.error, EOFError)) or type(exc).__name__ == "BadGzipFile":
        return (f"corrupt or truncated compressed data ({_first_line(str(exc)) or type(exc).__name__}); "
                "re-create or re-download the file")
    if isinstance(exc, OSError):
        what = exc.filename if exc.filename is not None else "a file"
        what = str(what)
        if exc.filename2 is not None:
            what += f" -> {exc.filename2}"
        problem, fix = _OS_PROBLEMS.get(exc.errno or -1, (exc.strerror or _first_line(str(exc)) or "failed",
                                                          "check the path and the device"))
        return f"{what}: {problem}; {fix}"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read; check that it is the file the command expects"
    if isinstance(exc, MemoryError):
        return "not enough memory for this input (is a size or a count far too large?); use a smaller input"
    if isinstance(exc, ValueError):
        return _first_line(str(exc)) or "invalid value"
    return None


@contextmanager
def reading(path: str | Path, what: str = "file", fix: str = "check that it is the file expected") -> Iterator[None]:
    """Turn whatever a damaged ``path`` makes a parser raise into one :class:`UserError`
    naming the file (a bad file must never look like a bug)."""
    try:
        yield
    except UserError:
        raise
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, zlib.error, EOFError, RecursionError,
            OverflowError) as exc:
        detail = _first_line(str(exc)) or type(exc).__name__
        if isinstance(exc, RecursionError):
            detail = "nested too deeply"
        if detail.startswith(str(path)):  # already names the file
            raise UserError(path, detail[len(str(path)):].lstrip(": "), "") from None
        raise UserError(path, f"not a valid {what} ({type(exc).__name__}: {detail})", fix) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``systemctl stop``, ``docker stop``, ``timeout``, a closed
    terminal), raised like Ctrl-C so that every command finishes or discards its files the
    way it does on Ctrl-C. ``signum`` gives the exit status ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def stop_signals_raise() -> dict[int, object]:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread; returns the old
    handlers for :func:`restore_signals`. Does nothing outside the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            old[sig] = signal.signal(sig, handler)
    return old


def restore_signals(old: dict[int, object]) -> None:
    import signal

    for sig, handler in old.items():
        signal.signal(sig, handler)
