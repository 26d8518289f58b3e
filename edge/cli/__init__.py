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
import sys

import click

from edge import __version__
from edge.cli.lazy import LazyGroup


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgerec")
def main() -> None:
    """edgerec: recognise dance styles from pose on small devices, and recommend music."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from edge.cli.catalog import catalog as _catalog  # noqa: E402  (light device commands)
from edge.cli.pose import pose_group as _pose  # noqa: E402
from edge.cli.run import demo as _demo, run as _run  # noqa: E402

main.add_command(_catalog)
main.add_command(_run)
main.add_command(_demo)
main.add_command(_pose)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
