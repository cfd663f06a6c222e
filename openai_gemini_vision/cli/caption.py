"""`ogv caption`."""
# CONTRACT STUB: filled in by the work on this command.

from __future__ import annotations

import click

__all__ = ["caption"]


@click.command()
def caption() -> None:
    """Not yet available."""
    raise click.UsageError("'ogv caption' is not available yet.")
