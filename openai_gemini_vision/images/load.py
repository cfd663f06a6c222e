"""The one-image entry points: `load_image`, `image_part` and `prepare_bytes`.

The format is always read from the bytes, never from a file name or a declared type.
A supported image that needs nothing done passes through byte for byte: no decode, no
re-encode; everything else is converted, and says what was done in `changes`.
"""

from __future__ import annotations

from typing import Any

from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from .blob import MemoryBlob
from .plan import plan_image, prepare_source
from .prepared import PreparedImage
from .source import ImageSource, Source

__all__ = ["image_part", "load_image", "prepare_bytes"]


def prepare_bytes(
    data: bytes | bytearray | memoryview,
    *,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    source: str = "bytes",
    declared_mime: str | None = None,
) -> PreparedImage:
    """Check, convert, orient and downscale image bytes; passthrough when nothing is needed.

    `source` labels the image in `PreparedImage.source` and in errors; `declared_mime` is
    the type the bytes were labelled with (a data URL's): a wrong label is corrected and
    listed in `changes`.
    """
    plan = plan_image(
        MemoryBlob(bytes(data)),
        detail=detail,
        policy=policy or DEFAULT_POLICY,
        label=source,
        declared_mime=declared_mime,
        error_label=None if source == "bytes" else source,
    )
    return plan.prepare()


def load_image(
    source: ImageSource | Source, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> PreparedImage:
    """Turn any image source into a checked `PreparedImage`.

    Paths and file:// URLs given here are always read: `allow_local_files` only gates
    strings found inside message JSON.
    """
    return prepare_source(Source.of(source), detail=detail, policy=policy)


def image_part(
    source: ImageSource, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> dict[str, Any]:
    """An OpenAI `image_url` content part holding `source` as a checked data URL."""
    return load_image(source, detail=detail, policy=policy).part(detail)
