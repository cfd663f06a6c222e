"""`ogv ask`: one question about one or more images, the answer on stdout, the cost on stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ..client import GEMINI_BASE_URL
from ..images.prepared import PreparedImage
from ..policy import Detail
from ..request.messages import copy_messages, image_slots
from ..request.prepare import PreparedRequest, prepare_messages
from ._common import (
    api_options,
    backend_option,
    cli_backend,
    cli_policy,
    detail_option,
    document_options,
    image_argument,
    make_client,
    max_pixels_option,
    max_retries_option,
    media_resolution_body,
    media_resolution_option,
)

__all__ = ["ask", "describe_image", "show_payloads"]


def show_payloads(prepared: PreparedRequest) -> list[dict[str, Any]]:
    """A copy of the prepared messages with each image shown as a short placeholder."""
    shown = copy_messages(prepared.messages)
    for slot, image in zip(image_slots(shown), prepared.images, strict=True):
        part = slot.content[slot.index]
        part["image_url"] = {**part["image_url"], "url": image.placeholder}
    return shown


def describe_image(number: int, image: PreparedImage) -> str:
    """One line: where an image came from, its size before and after, and what was changed."""
    label = f"image {number}" + (f" ({image.source})" if image.source else "")
    before = f"{image.original_width}x{image.original_height} {image.original_format}"
    after = f"{image.width}x{image.height} {image.mime_type}, {image.byte_size:,} bytes"
    changed = "; ".join(image.changes) if image.changes else "sent as is"
    return f"{label}: {before} -> {after}: {changed}"


def _report(prepared: PreparedRequest, usage: Any, *, sent: bool = True) -> None:
    estimate = prepared.estimate
    line = (
        f"tokens: {estimate.total_tokens:,} estimated before the call "
        f"({estimate.image_tokens:,} image + {estimate.text_tokens:,} text)"
    )
    if not sent:
        line += "; dry run, nothing sent"
    elif usage is None:
        line += "; the response reported no usage"
    else:
        line += (
            f"; usage.prompt_tokens {usage.prompt_tokens:,} "
            f"(completion {usage.completion_tokens:,}, total {usage.total_tokens:,})"
        )
    click.echo(line, err=True)
    for number, image in enumerate(prepared.images, 1):
        click.echo(describe_image(number, image), err=True)


def _request_body(
    prepared: PreparedRequest, model: str, stream: bool, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The request body as it goes on the wire (and as --dry-run prints it)."""
    body: dict[str, Any] = {"messages": prepared.messages, "model": model}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if extra is not None:
        body["extra_body"] = extra
    return body


def _create_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """`chat.completions.create`'s arguments for a wire `body`: the SDK merges its own
    `extra_body` argument into the body, so a field named extra_body goes inside one."""
    arguments = dict(body)
    if "extra_body" in arguments:
        arguments["extra_body"] = {"extra_body": arguments["extra_body"]}
    return arguments


@click.command(
    epilog="""\b
Examples:
  ogv ask photo.jpg --prompt "What is in this picture?"
  ogv ask before.png after.png --prompt "What changed?" --detail low
  curl -s https://example.com/cat.webp | ogv ask - --prompt "Describe it" --json
  ogv ask scan.heic --prompt "Transcribe the text" --dry-run
\b
Exit status: 0 answered, 1 failed, 2 usage or configuration error (a missing
or refused key included), 130 Ctrl-C."""
)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--prompt", "-p", required=True, help="The question to ask about the images.")
@click.option("--system", metavar="TEXT", help="A system instruction sent before the question.")
@detail_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON.")
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Print the answer as it arrives [default: when stdout is a terminal].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the request as it would be sent (images in short) and its estimate; "
    "no key, no network.",
)
@media_resolution_option
@max_pixels_option
@document_options
@max_retries_option
@backend_option
@api_options
def ask(
    images: tuple[str, ...],
    prompt: str,
    system: str | None,
    detail: Detail,
    as_json: bool,
    stream: bool | None,
    dry_run: bool,
    model: str,
    base_url: str | None,
    backend: str | None,
    max_retries: int,
    max_pixels: int | None,
    pages: str | None,
    fps: float | None,
    max_frames: int | None,
    media_resolution: str | None,
) -> None:
    """Ask Gemini about IMAGE files, http(s) or data: URLs, or - (image bytes on stdin).

    The answer goes to stdout; the token estimate next to the billed prompt
    tokens, and what was done to each image, go to stderr.
    """
    if as_json and stream:
        raise click.UsageError("--json prints the whole response at once; drop --stream.")
    if images.count("-") > 1:
        raise click.BadParameter("stdin ('-') can hold only one image.", param_hint="IMAGE")
    sources = [image_argument(text, sys.stdin.buffer.read) for text in images]
    if dry_run:
        for source in sources:
            if source.kind == "http":
                raise click.UsageError(
                    f"--dry-run works offline and cannot fetch {source.label}; "
                    "download it and pass the file instead."
                )
    if stream is None:
        stream = not as_json and sys.stdout.isatty()

    content: list[Any] = list(sources)
    # Google's vision guide: with one image, put the text prompt after the image.
    content.append({"type": "text", "text": prompt})
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    policy = cli_policy(detail, max_pixels, pages=pages, fps=fps, max_frames=max_frames)
    prepared = prepare_messages(
        messages,
        model=model,
        policy=policy,
        backend=cli_backend(backend, base_url),
        media_resolution=media_resolution,
    )
    extra = media_resolution_body(media_resolution)

    if dry_run:
        body = _request_body(prepared, model, stream, extra)
        body["messages"] = show_payloads(prepared)
        url = base_url or os.environ.get("GEMINI_BASE_URL") or GEMINI_BASE_URL
        click.echo(f"POST {url.rstrip('/')}/chat/completions (dry run: not sent)", err=True)
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        _report(prepared, None, sent=False)
        return

    with make_client(base_url, policy=policy, max_retries=max_retries) as client:
        usage = (
            _stream(client, _request_body(prepared, model, True, extra))
            if stream
            else _once(client, _request_body(prepared, model, False, extra), as_json)
        )
    _report(prepared, usage)


def _once(client: Any, body: dict[str, Any], as_json: bool) -> Any:
    response = client.chat.completions.create(**_create_arguments(body))
    if as_json:
        click.echo(response.model_dump_json(indent=2, exclude_unset=True))
    elif response.choices:
        choice = response.choices[0]
        click.echo(choice.message.content or "")
        if choice.message.content is None:
            click.echo(
                f"ogv: the answer holds no text (finish_reason={choice.finish_reason}).", err=True
            )
    return response.usage


def _stream(client: Any, body: dict[str, Any]) -> Any:
    usage = None
    out = sys.stdout
    with client.chat.completions.create(**_create_arguments(body)) as chunks:
        for chunk in chunks:
            # Gemini sends usage on every chunk; the last one is the total.
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if choice.delta.content:
                    out.write(choice.delta.content)
                    out.flush()
    out.write("\n")
    return usage
