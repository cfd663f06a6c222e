"""`ogv tokens`."""
# CONTRACT STUB: filled in by the work on this command.

from __future__ import annotations

import click

__all__ = ["tokens"]


@click.command()
def tokens() -> None:
    """Not yet available."""
    raise click.UsageError("'ogv tokens' is not available yet.")
