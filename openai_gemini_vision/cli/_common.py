"""What every `ogv` command shares: options, the client, and errors mapped to exit codes."""

from __future__ import annotations

import glob
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import openai
from rich.console import Console
from rich.table import Table

from ..caption import find_images
from ..client import GEMINI_BASE_URL, AsyncOpenAI, OpenAI, key_refused
from ..errors import GeminiVisionError, MissingAPIKeyError
from ..images.source import Source
from ..policy import Detail, ImagePolicy
from ..request.estimate import DEFAULT_MODEL
from ..token_rules import BACKENDS, Backend, backend_for_base_url, backend_of
from ._explain import cli_words, explain, one_line
from ._options import (
    check_base_url,
    document_options,
    max_pixels_option,
    max_retries_option,
    media_resolution_body,
    media_resolution_option,
)

__all__ = [
    "DEFAULT_MODEL",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "INTERRUPTED",
    "ImageArguments",
    "api_options",
    "backend_option",
    "base_url_option",
    "check_base_url",
    "check_output",
    "cli_backend",
    "cli_policy",
    "cli_words",
    "debug_option",
    "default_model",
    "detail_option",
    "document_options",
    "explain",
    "failed_lines",
    "image_argument",
    "image_arguments",
    "main",
    "make_async_client",
    "make_client",
    "max_pixels_option",
    "max_retries_option",
    "media_resolution_body",
    "media_resolution_option",
    "model_option",
    "ogv",
    "one_line",
    "passed_over_lines",
    "table_console",
]


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: 128 + SIGINT, what shells report for a program stopped by Ctrl-C.
EXIT_INTERRUPTED = 130
#: The one line Ctrl-C leaves, whenever it comes (ogv_launcher.py prints the same words
#: while the package is still loading).
INTERRUPTED = "ogv: stopped by Ctrl-C."

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
        callback=check_base_url,
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


def cli_policy(
    detail: Detail = "auto",
    max_pixels: int | None = None,
    *,
    pages: str | None = None,
    fps: float | None = None,
    max_frames: int | None = None,
) -> ImagePolicy:
    """The image policy for images named on the command line.

    The person typing the command chose each path and URL, so local files and
    loopback or private-network URLs are theirs to send (a library caller taking
    message JSON from strangers keeps the safe defaults). `pages`, `fps` and
    `max_frames` are --pages, --fps and --max-frames, for PDFs and videos.
    """
    given: dict[str, Any] = {
        "max_pixels": max_pixels,
        "pdf_pages": pages,
        "video_fps": fps,
        "video_max_frames": max_frames,
    }
    policy = ImagePolicy(detail=detail, allow_local_files=True, allow_private_urls=True)
    return policy.model_copy(
        update={name: value for name, value in given.items() if value is not None}
    )


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


@dataclass
class ImageArguments:
    """IMAGE arguments with folders and globs expanded: the images in order, and the
    files in those folders passed over as not images."""

    sources: list[Source] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)
    expanded: bool = False
    """Whether a folder or a glob was named."""


def _folder_or_glob(text: str) -> bool:
    if text == "-" or Source.of(text).kind != "path":
        return False
    return os.path.isdir(text) or (glob.has_magic(text) and not os.path.exists(text))


def image_arguments(texts: Iterable[str], read_stdin: Callable[[], bytes]) -> ImageArguments:
    """IMAGE arguments that may also name folders (searched recursively, image files
    recognised by content, as ogv caption searches them) and globs the shell left alone.
    Each file found is then classified like any argument (`image_argument`)."""
    found = ImageArguments()
    for text in texts:
        if not _folder_or_glob(text):
            found.sources.append(image_argument(text, read_stdin))
            continue
        try:
            images = find_images([text])
        except FileNotFoundError as exc:
            raise click.BadParameter(str(exc), param_hint="IMAGE") from None
        found.expanded = True
        found.sources += [image_argument(path, read_stdin) for path in images.files]
        found.passed_over += images.not_images
    return found


def passed_over_lines(paths: list[str], listed: int = 20) -> list[str]:
    """Lines naming the files a folder search passed over as not images (the first
    `listed` of them)."""
    if not paths:
        return []
    what = "file that is not an image" if len(paths) == 1 else "files that are not images"
    lines = [f"Passed over {len(paths):,} {what}:"]
    lines += [f"  {path}" for path in paths[:listed]]
    if len(paths) > listed:
        lines.append(f"  ... and {len(paths) - listed:,} more.")
    return lines


def failed_lines(heading: str, failed: dict[str, str], out: Path, listed: int = 20) -> list[str]:
    """`heading`, then the first `listed` failed files with their errors in the CLI's words."""
    if not failed:
        return []
    rows = list(failed.items())
    lines = [heading] + [f"  {path}: {cli_words(error)}" for path, error in rows[:listed]]
    if len(rows) > listed:
        lines.append(f"  ... and {len(rows) - listed:,} more (see {out}).")
    return lines


def check_output(path: Path, option: str = "--out") -> None:
    """Refuse an output file that cannot be written, before anything is read or paid for."""
    folder = path.parent
    if path.is_dir():
        raise click.BadParameter(
            f"Cannot write {path}: it is a folder. Name a file, e.g. {path / 'out'}.",
            param_hint=option,
        )
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise click.BadParameter(
            f"Cannot write {path}: the folder {folder} {what}. Create it, or choose "
            f"another {option}.",
            param_hint=option,
        )
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        where = "to it" if target == path else f"in the folder {folder}"
        raise click.BadParameter(
            f"Cannot write {path}: no permission to write {where}. Choose another {option}.",
            param_hint=option,
        )


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


def _interrupted(ctx_meta: dict[str, Any]) -> click.exceptions.Exit:
    """Ctrl-C: one line (the traceback first with --debug), then exit status 130."""
    if ctx_meta.get("ogv.debug"):
        traceback.print_exc()
    # A terminal has echoed "^C" on the current line: end that line first.
    end_of_echo = "\n" if sys.stderr.isatty() else ""
    click.echo(end_of_echo + INTERRUPTED, err=True)
    return click.exceptions.Exit(EXIT_INTERRUPTED)


class _Group(click.Group):
    """Turns library and API errors into one line naming the fix (traceback with --debug),
    and Ctrl-C into one line and exit status 130 instead of click's "Aborted!" and 1."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:
            raise _interrupted({}) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _interrupted(ctx.meta) from None
        except (GeminiVisionError, openai.OpenAIError, OSError) as exc:
            if ctx.meta.get("ogv.debug"):
                raise
            click.echo(f"ogv: {explain(exc)}", err=True)
            # A missing or refused key: nothing can work until the setup is fixed, a
            # configuration (usage) problem like a wrong flag.
            configuration = isinstance(exc, MissingAPIKeyError) or key_refused(exc)
            ctx.exit(EXIT_USAGE if configuration else EXIT_FAILED)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with each command's first sentence whole, never cut to "..."."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="openai-gemini-vision", prog_name="ogv")
@click.pass_context
def ogv(ctx: click.Context, debug: bool) -> None:
    """Send images to Google Gemini from the terminal.

    \b
    Examples:
      ogv tokens photo.jpg --model gemini-2.0-flash --model gemini-3-pro-preview
      ogv tokens photos/
      ogv ask photo.jpg --prompt "What is in this picture?" --dry-run
      ogv caption photos/ --prompt "One-line caption" --out captions.jsonl
      ogv detect street.jpg --prompt "find every car" --out boxes.png
      ogv segment photo.jpg --prompt "the cats" --out overlay.png

    Reads GEMINI_API_KEY (or GOOGLE_API_KEY), GEMINI_BASE_URL and GEMINI_MODEL.
    Exit status: 0 done, 1 failed, 2 usage or configuration error (a missing or
    refused key included), 130 Ctrl-C.
    """
    ctx.meta["ogv.debug"] = debug


def main() -> None:
    """Entry point of the `ogv` script and `python -m openai_gemini_vision`."""
    ogv(prog_name="ogv")
    sys.exit(EXIT_OK)  # pragma: no cover - click exits itself
