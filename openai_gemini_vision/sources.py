"""Any image source (path, bytes, PIL image, file object, data URL, http(s) URL) -> `PreparedImage`."""
# CONTRACT STUB: filled in by the images work (issue 2). Keep these signatures.

from __future__ import annotations

import os
from typing import IO, Any, TypeAlias

from PIL import Image

from .images import PreparedImage
from .policy import Detail, ImagePolicy

__all__ = ["ImageSource", "image_part", "load_image", "prepare_bytes"]

ImageSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | IO[bytes]
)


def prepare_bytes(
    data: bytes,
    *,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    source: str = "bytes",
    declared_mime: str | None = None,
) -> PreparedImage:
    """Check, convert, orient and downscale image bytes; passthrough when nothing is needed."""
    raise NotImplementedError


def load_image(
    source: ImageSource, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> PreparedImage:
    """Turn any image source into a checked `PreparedImage`."""
    raise NotImplementedError


def image_part(
    source: ImageSource, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> dict[str, Any]:
    """An OpenAI `image_url` content part holding `source` as a checked data URL."""
    raise NotImplementedError
