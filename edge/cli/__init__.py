"""The ``edgerec`` command line: every command's click code, and nothing else.

Each module here parses options and calls the package that does the work (``run.py``:
:mod:`edge.runtime.session`; ``catalog.py``: :mod:`edge.recommend.library`; ``pose.py``:
:mod:`edge.pose.models`), so the same work is reachable from Python without click. This
package may import anything in ``edge``; nothing in ``edge`` imports it.

The group lives in ``edge`` so that the device commands start without anything heavy.
Commands of the packages above ``edge`` (training, converters, benchmarks) are declared in
the ``edgerec.commands`` entry-point group and imported only when they are called, so
``edgerec run --help`` never imports TensorFlow.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

import click

from edge import __version__
from edge.cli.lazy import LazyGroup
from edge.core.errors import BUG_EXIT, describe, restore_signals, stop_signals_raise

#: Set to 1 for full tracebacks, as ``--debug`` does.
DEBUG_ENV = "EDGEREC_DEBUG"


class _Bug(click.ClickException):
    exit_code = BUG_EXIT


class _Main(LazyGroup):
    """The one error boundary: every expected failure of every command (device and plugin
    commands alike) becomes ``Error: WHAT: problem; fix`` and exit status 1."""

    def invoke(self, ctx: click.Context):
        old = stop_signals_raise()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP raised as Terminated
            signum = getattr(exc, "signum", signal.SIGINT)
            click.echo(f"edgerec: stopped by {signal.Signals(signum).name}; nothing half-written was kept", err=True)
            sys.exit(128 + signum)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if ctx.params.get("debug") or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            message = describe(exc)
            if message is not None:
                raise click.ClickException(message) from None
            where = traceback.extract_tb(exc.__traceback__)[-1]
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise _Bug(f"internal error: {type(exc).__name__}{': ' + detail if detail else ''} "
                       f"(at {Path(where.filename).name}:{where.lineno}); this is a bug in edgerec: rerun with "
                       "--debug for the full traceback and report it") from None
        finally:
            restore_signals(old)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgerec")
@click.option("--debug", is_flag=True, help=f"show full tracebacks instead of one-line errors (or {DEBUG_ENV}=1)")
def main(debug: bool) -> None:
    """edgerec: recognise dance styles from pose on small devices, and recommend music."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # OpenCV's and FFmpeg's own warnings (codec probing, seeking) say nothing a user can act on;
    # read before cv2 is first imported, which is later than this.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "16")  # AV_LOG_ERROR


from edge.cli.catalog import catalog as _catalog  # noqa: E402  (light device commands)
from edge.cli.pose import pose_group as _pose  # noqa: E402
from edge.cli.run import demo as _demo, run as _run  # noqa: E402
from edge.cli.styles import styles as _styles  # noqa: E402

main.add_command(_catalog)
main.add_command(_run)
main.add_command(_demo)
main.add_command(_pose)
main.add_command(_styles)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
