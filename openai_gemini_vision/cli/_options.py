"""Options shared by `ogv` commands that call Gemini or read images: the endpoint's
address, retries, the pixel limit and the media resolution."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from PIL import Image

from ..client import GEMINI_BASE_URL
from ..policy import DEFAULT_POLICY

__all__ = [
    "check_base_url",
    "document_options",
    "max_pixels_option",
    "max_retries_option",
    "media_resolution_body",
    "media_resolution_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The largest image decoded when --max-pixels is not given: the policy's limit, or
#: Pillow's decompression-bomb error (twice its warning threshold) if that comes first.
_DEFAULT_MAX_PIXELS = min(
    DEFAULT_POLICY.max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0) or DEFAULT_POLICY.max_pixels
)


def _refuse_url(url: str, where: str) -> None:
    try:
        parts = urlsplit(url)
        usable = parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        usable = False
    if not usable:
        raise click.BadParameter(
            f"{url!r} is not an http(s) URL: give the endpoint's whole address, starting "
            f"with http:// or https:// and a host, e.g. {GEMINI_BASE_URL}",
            param_hint=where,
        )


def check_base_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """`--base-url`'s callback: it, or GEMINI_BASE_URL when it is not given, must be an
    http(s) URL with a host, checked before anything is read or sent."""
    if value is not None:
        _refuse_url(value, "--base-url")
    elif os.environ.get("GEMINI_BASE_URL", "").strip():
        _refuse_url(os.environ["GEMINI_BASE_URL"].strip(), "GEMINI_BASE_URL")
    return value


def max_retries_option(f: F) -> F:
    """`--max-retries N`: the OpenAI SDK's retries (429, 5xx, connection errors)."""
    return click.option(
        "--max-retries",
        type=click.IntRange(0, 20),
        default=2,
        show_default=True,
        help="Retries on 429, 5xx and connection errors, with back-off.",
    )(f)


def _raise_pillow_guard(
    ctx: click.Context, _param: click.Parameter, value: int | None
) -> int | None:
    # Pillow refuses to open an image over twice Image.MAX_IMAGE_PIXELS before our own
    # check runs; a limit the user raised must be the one that holds, for this command.
    before = Image.MAX_IMAGE_PIXELS
    if value is not None and before is not None and value > before:
        Image.MAX_IMAGE_PIXELS = value
        ctx.call_on_close(lambda: setattr(Image, "MAX_IMAGE_PIXELS", before))
    return value


def max_pixels_option(f: F) -> F:
    """`--max-pixels N`: the largest width x height decoded (decompression-bomb guard)."""
    return click.option(
        "--max-pixels",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        callback=_raise_pillow_guard,
        help="Largest image (width x height) read; larger ones are refused as a guard "
        f"against decompression bombs. [default: {_DEFAULT_MAX_PIXELS:,}]",
    )(f)


def media_resolution_option(f: F) -> F:
    """`--media-resolution low|medium|high` on a command that calls Gemini."""
    return click.option(
        "--media-resolution",
        type=click.Choice(["low", "medium", "high"], case_sensitive=False),
        default=None,
        help="Ask for images at this resolution and estimate for it (Gemini 3: 280, 560 "
        "or 1,120 tokens an image; earlier models: 64, 256 or their own rule). Sent as "
        "extra_body.google.media_resolution, a spelling Google does not document for the "
        "OpenAI-compatible endpoint: if it refuses it, drop the option. [default: the "
        "model's own, nothing sent]",
    )(f)


def media_resolution_body(value: str | None) -> dict[str, Any] | None:
    """What the request body carries for --media-resolution: its `extra_body` field, the
    place Gemini-only options (thinking_config, cached_content) travel in public code."""
    if value is None:
        return None
    return {"google": {"media_resolution": f"MEDIA_RESOLUTION_{value.upper()}"}}


def document_options(f: F) -> F:
    """`--pages`, `--fps`, `--max-frames`: which pages of a PDF, which frames of a video."""
    f = click.option(
        "--max-frames",
        type=click.IntRange(1, 3600),
        default=None,
        metavar="N",
        help="Frames taken from a video at most; a longer one is sampled evenly over its "
        "whole length. [default: 120]",
    )(f)
    f = click.option(
        "--fps",
        type=click.FloatRange(0, 30, min_open=True),
        default=None,
        help="Frames sampled per second of a video. [default: 1, Gemini's own rate]",
    )(f)
    return click.option(
        "--pages",
        metavar="LIST",
        default=None,
        help="Pages of a PDF to send, e.g. 1-3,7 or 10- (each page goes as an image after "
        "a 'Page 3 of 12' label). [default: every page]",
    )(f)
