"""What every `ogv` command shares: options, the client, and errors mapped to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import openai
from rich.console import Console
from rich.table import Table

from ..client import GEMINI_BASE_URL, AsyncOpenAI, OpenAI
from ..errors import GeminiVisionError, MissingAPIKeyError
from ..images.source import Source
from ..policy import Detail, ImagePolicy
from ..request.estimate import DEFAULT_MODEL
from ..token_rules import BACKENDS, Backend, backend_for_base_url, backend_of

__all__ = [
    "DEFAULT_MODEL",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "api_options",
    "backend_option",
    "base_url_option",
    "cli_backend",
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
    "table_console",
]


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
        help="low: downscale so both sides <= 384 px; this saves tokens on Gemini 1.5, "
        "2.0 and 2.5 on Vertex AI, but only bytes and upload time on 2.5 (Gemini API) "
        "and 3.x, which bill an image whatever its size. high/auto: keep the size.",
    )(f)


def backend_option(f: F) -> F:
    """`--backend gemini-api|vertex-ai`: where the request is billed."""
    return click.option(
        "--backend",
        type=click.Choice(list(BACKENDS)),
        default=None,
        help="Where the request is billed, which changes what images cost [default: "
        "vertex-ai when the base URL is on aiplatform.googleapis.com, else gemini-api].",
    )(f)


def cli_backend(backend: str | None, base_url: str | None) -> Backend:
    """--backend, else the backend the endpoint's address names."""
    if backend is not None:
        return backend_of(backend)
    return backend_for_base_url(
        base_url or os.environ.get("GEMINI_BASE_URL", "").strip() or GEMINI_BASE_URL
    )


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


def image_argument(text: str, read_stdin: Callable[[], bytes]) -> Source:
    """One IMAGE argument, classified as the library classifies any source.

    "-" is the bytes on stdin; a data:, http(s):// or file:// URL (any case) is a URL;
    anything else must name an existing file.
    """
    if text == "-":
        data = read_stdin()
        if not data:
            raise click.BadParameter("'-' reads the image from stdin, but stdin was empty.")
        return Source("bytes", data, "stdin")
    source = Source.of(text)
    if source.kind == "path":
        if os.path.isdir(text):
            raise click.BadParameter(
                f"{text} is a folder; name image files (ogv caption and ogv tokens take folders).",
                param_hint="IMAGE",
            )
        if not os.path.isfile(text):
            raise click.BadParameter(
                f"No such file: {text} (pass an image path, an http(s) or data: URL, or - "
                "for stdin).",
                param_hint="IMAGE",
            )
    return source


def table_console(table: Table) -> Console:
    """A console to print `table` on: the terminal's, or (a pipe, a file) one wide enough
    to print it whole, so no figure is ever cut or wrapped."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(80, Console(width=10_000).measure(table).maximum))
    return console


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
    """One line for people: the file it is about, the error, then the fix when the error
    itself does not name it (`photo.jpg: the image is empty (0 bytes) ...`)."""
    if isinstance(exc, GeminiVisionError) and exc.source:
        message = " ".join(exc.message.split())
        if message[:1].isupper() and message[1:2].islower():  # "The image", not "PNG"
            message = message[0].lower() + message[1:]
        return f"{exc.source}: {message}"
    text = one_line(exc)
    hint = _hint(exc, text)
    return f"error: {text} {hint}" if hint else f"error: {text}"


class _Group(click.Group):
    """Turns library and API errors into one line naming the fix (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (GeminiVisionError, openai.OpenAIError, OSError) as exc:
            if ctx.meta.get("ogv.debug"):
                raise
            click.echo(f"ogv: {explain(exc)}", err=True)
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
