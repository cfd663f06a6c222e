"""What every `ogv` command shares: options, the client, and errors mapped to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import openai

from ..errors import GeminiVisionError

__all__ = [
    "DEFAULT_MODEL",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
    "ogv",
]

#: Used when neither --model nor GEMINI_MODEL is given.
DEFAULT_MODEL = "gemini-2.5-flash"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def default_model() -> str:
    """--model's default: GEMINI_MODEL if set, else DEFAULT_MODEL."""
    return os.environ.get("GEMINI_MODEL") or DEFAULT_MODEL


class _Group(click.Group):
    """Turns library and API errors into one line naming the fix (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (GeminiVisionError, openai.OpenAIError) as exc:
            if ctx.meta.get("ogv.debug"):
                raise
            click.echo(f"ogv: error: {one_line(exc)}", err=True)
            ctx.exit(EXIT_FAILED)


def one_line(exc: BaseException) -> str:
    """An exception as a single line, for people."""
    return " ".join(str(exc).split()) or type(exc).__name__


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="openai-gemini-vision", prog_name="ogv")
@click.pass_context
def ogv(ctx: click.Context, debug: bool) -> None:
    """Send images to Google Gemini from the terminal.

    \b
    Examples:
      ogv tokens photo.jpg --model gemini-2.0-flash --model gemini-3-pro-preview
      ogv ask photo.jpg --prompt "What is in this picture?" --dry-run
      ogv caption photos/ --prompt "One-line caption" --out captions.jsonl
      ogv detect street.jpg --prompt "find every car" --out boxes.png

    Reads GEMINI_API_KEY (or GOOGLE_API_KEY) and GEMINI_BASE_URL.
    """
    ctx.meta["ogv.debug"] = debug


def main() -> None:
    """Entry point of the `ogv` script and `python -m openai_gemini_vision`."""
    ogv(prog_name="ogv")
    sys.exit(EXIT_OK)  # pragma: no cover - click exits itself
