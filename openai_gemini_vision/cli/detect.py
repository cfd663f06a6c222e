"""`ogv detect`."""
# CONTRACT STUB: filled in by the work on this command.

from __future__ import annotations

import click

__all__ = ["detect"]


@click.command()
def detect() -> None:
    """Not yet available."""
    raise click.UsageError("'ogv detect' is not available yet.")
