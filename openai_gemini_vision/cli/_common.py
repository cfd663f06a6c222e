"""What every `ogv` command shares: options, the client, and errors mapped to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import openai

from ..client import AsyncOpenAI, OpenAI
from ..errors import GeminiVisionError, MissingAPIKeyError
from ..policy import Detail, ImagePolicy

__all__ = [
    "DEFAULT_MODEL",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "api_options",
    "base_url_option",
    "cli_policy",
    "debug_option",
    "default_model",
    "detail_option",
    "explain",
    "image_argument",
    "main",
    "make_async_client",
    "make_client",
    "model_option",
    "ogv",
    "one_line",
]

#: Used when neither --model nor GEMINI_MODEL is given.
DEFAULT_MODEL = "gemini-2.5-flash"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: 128 + SIGINT, what shells report for a program stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def default_model() -> str:
    """--model's default: GEMINI_MODEL if set, else DEFAULT_MODEL."""
    return os.environ.get("GEMINI_MODEL") or DEFAULT_MODEL


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # ctx.meta is shared by every nested context, so the group's error handler sees it.
    if value:
        ctx.meta["ogv.debug"] = True


def debug_option(f: F) -> F:
    """`--debug` on a command, same as `ogv --debug <command>`."""
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_set_debug,
        help="Show full tracebacks instead of one-line errors.",
    )(f)


def model_option(f: F) -> F:
    """`--model`: one Gemini model name, defaulting to GEMINI_MODEL or DEFAULT_MODEL."""
    return click.option(
        "--model",
        "-m",
        default=default_model,
        show_default=f"GEMINI_MODEL or {DEFAULT_MODEL}",
        help="Gemini model to ask.",
    )(f)


def base_url_option(f: F) -> F:
    """`--base-url`: where the OpenAI-compatible endpoint lives."""
    return click.option(
        "--base-url",
        metavar="URL",
        default=None,
        help="OpenAI-compatible endpoint [default: GEMINI_BASE_URL, else Gemini's].",
    )(f)


def detail_option(f: F) -> F:
    """`--detail low|high|auto`: the image policy's detail."""
    return click.option(
        "--detail",
        type=click.Choice(["low", "high", "auto"]),
        default="auto",
        show_default=True,
        help="low: downscale so both sides <= 384 px (258 tokens each); high/auto: keep size.",
    )(f)


def api_options(f: F) -> F:
    """--model, --base-url and --debug: what every command that calls Gemini takes."""
    return model_option(base_url_option(debug_option(f)))


def cli_policy(detail: Detail = "auto") -> ImagePolicy:
    """The image policy for images named on the command line.

    The person typing the command chose each path and URL, so local files and
    loopback or private-network URLs are theirs to send (a library caller taking
    message JSON from strangers keeps the safe defaults).
    """
    return ImagePolicy(detail=detail, allow_local_files=True, allow_private_urls=True)


#: IMAGE arguments passed on as URLs, not read as paths.
URL_PREFIXES = ("http://", "https://", "data:")


def image_argument(source: str, read_stdin: Callable[[], bytes]) -> bytes | Path | str:
    """One IMAGE argument: stdin's bytes for "-", a URL as typed, else an existing file."""
    if source == "-":
        data = read_stdin()
        if not data:
            raise click.BadParameter("'-' reads the image from stdin, but stdin was empty.")
        return data
    if source.startswith(URL_PREFIXES):
        return source
    path = Path(source)
    if not path.is_file():
        raise click.BadParameter(
            f"No such file: {source} (pass an image path, an http(s) or data: URL, or - for "
            "stdin).",
            param_hint="IMAGE",
        )
    return path


def make_client(
    base_url: str | None, *, policy: ImagePolicy | None = None, **kwargs: Any
) -> OpenAI:
    """Our drop-in client: key from GEMINI_API_KEY / GOOGLE_API_KEY, URL from --base-url or env."""
    return OpenAI(base_url=base_url or None, image_policy=policy, **kwargs)


def make_async_client(
    base_url: str | None, *, policy: ImagePolicy | None = None, **kwargs: Any
) -> AsyncOpenAI:
    """The async twin of `make_client`."""
    return AsyncOpenAI(base_url=base_url or None, image_policy=policy, **kwargs)


def one_line(exc: BaseException) -> str:
    """An exception as a single line, for people."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _hint(exc: BaseException, text: str) -> str | None:
    """What to change on the command line, for API errors whose text does not say it."""
    if isinstance(exc, openai.APITimeoutError):
        return "The request timed out: rerun, or check --base-url / GEMINI_BASE_URL."
    if isinstance(exc, openai.APIConnectionError):
        return f"Could not connect to {exc.request.url.host}: check --base-url / GEMINI_BASE_URL and the network."
    if "GEMINI_API_KEY" in text:
        return None
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError) or (
        isinstance(exc, openai.BadRequestError) and "API key not valid" in text
    ):
        return "Check GEMINI_API_KEY (or GOOGLE_API_KEY); keys come from https://aistudio.google.com/apikey."
    if isinstance(exc, openai.NotFoundError):
        return "Check --model (or GEMINI_MODEL) and --base-url."
    if isinstance(exc, openai.RateLimitError) and "retry" not in text.lower():
        return "Gemini's rate limit was hit: wait a minute and rerun, or ask for a higher quota."
    return None


def explain(exc: BaseException) -> str:
    """One line for people: the error, then the fix when the error itself does not name it."""
    text = one_line(exc)
    hint = _hint(exc, text)
    return f"{text} {hint}" if hint else text


class _Group(click.Group):
    """Turns library and API errors into one line naming the fix (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (GeminiVisionError, openai.OpenAIError, OSError) as exc:
            if ctx.meta.get("ogv.debug"):
                raise
            click.echo(f"ogv: error: {explain(exc)}", err=True)
            # Nothing was attempted without a key: a configuration (usage) problem.
            ctx.exit(EXIT_USAGE if isinstance(exc, MissingAPIKeyError) else EXIT_FAILED)


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
      ogv segment photo.jpg --prompt "the cats" --out overlay.png

    Reads GEMINI_API_KEY (or GOOGLE_API_KEY), GEMINI_BASE_URL and GEMINI_MODEL.
    """
    ctx.meta["ogv.debug"] = debug


def main() -> None:
    """Entry point of the `ogv` script and `python -m openai_gemini_vision`."""
    ogv(prog_name="ogv")
    sys.exit(EXIT_OK)  # pragma: no cover - click exits itself
