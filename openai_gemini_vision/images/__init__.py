"""One image, from any source to a checked data URL: classify, read, check, convert, encode.

The data path runs through the modules in this order: `source` (what names the image)
-> `blob` (its bytes, read as far as needed) -> `probe` and `sniff` (its header and
structure) -> `plan` (what will be done) -> `convert` (pixel work, only when needed) ->
`prepared` (the bytes as sent, and the data URL).
"""

from __future__ import annotations

from .load import image_part, load_image, prepare_bytes
from .prepared import SUPPORTED_MIME_TYPES, PreparedImage
from .source import ImageSource, Source

__all__ = [
    "SUPPORTED_MIME_TYPES",
    "ImageSource",
    "PreparedImage",
    "Source",
    "image_part",
    "load_image",
    "prepare_bytes",
]
