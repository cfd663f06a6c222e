"""One image, from any source to a checked data URL: read, probe, check, convert, encode."""

from __future__ import annotations

from .prepared import SUPPORTED_MIME_TYPES, PreparedImage
from .source import ImageSource, image_part, load_image

__all__ = ["SUPPORTED_MIME_TYPES", "ImageSource", "PreparedImage", "image_part", "load_image"]
