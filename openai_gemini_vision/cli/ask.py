"""`ogv ask`."""
# CONTRACT STUB: filled in by the work on this command.

from __future__ import annotations

import click

__all__ = ["ask"]


@click.command()
def ask() -> None:
    """Not yet available."""
    raise click.UsageError("'ogv ask' is not available yet.")
