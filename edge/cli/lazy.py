"""Click helpers shared by the device commands: a group whose plugin commands load lazily."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Optional

import click


def _plugins(group: str = "edgerec.commands") -> dict:
    return {ep.name: ep for ep in entry_points(group=group)}


class LazyGroup(click.Group):
    """A click group whose plugin commands (entry points in ``plugin_group``) are imported
    on first use."""

    plugin_group = "edgerec.commands"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_plugins(self.plugin_group)))

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        ep = _plugins(self.plugin_group).get(name)
        if ep is None:
            return None
        try:
            return ep.load()
        except ImportError as exc:
            raise click.ClickException(
                f"`edgerec {name}` needs packages that are not installed ({exc}); "
                "install them with: pip install 'edgerec[train]'"
            ) from exc
