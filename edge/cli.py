"""The ``edgerec`` command line.

The group lives in ``edge`` so that the device commands start without anything heavy.
Commands of the packages above ``edge`` (training, converters, benchmarks) are declared in
the ``edgerec.commands`` entry-point group and imported only when they are called, so
``edgerec run --help`` never imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from typing import Optional

import click

from edge import __version__


def _plugins() -> dict:
    return {ep.name: ep for ep in entry_points(group="edgerec.commands")}


class LazyGroup(click.Group):
    """A click group whose plugin commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_plugins()))

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        ep = _plugins().get(name)
        if ep is None:
            return None
        try:
            return ep.load()
        except ImportError as exc:
            raise click.ClickException(
                f"`edgerec {name}` needs packages that are not installed ({exc}); "
                "install them with: pip install 'edgerec[train]'"
            ) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgerec")
def main() -> None:
    """edgerec: recognise dance styles from pose on small devices, and recommend music."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from edge.catalog_cli import catalog as _catalog  # noqa: E402  (a light device command)

from edge.run_cli import demo as _demo, pose_group as _pose, run as _run  # noqa: E402

main.add_command(_catalog)
main.add_command(_run)
main.add_command(_demo)
main.add_command(_pose)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
